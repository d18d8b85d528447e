// The app's HostProvider seen as an internal providers::Provider.
#pragma once

#include <memory>
#include <string>

#include "perdiem/host_provider.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::sdk {

std::unique_ptr<providers::Provider> adapt_host_provider(std::shared_ptr<HostProvider> host,
                                                         std::string name);

}  // namespace perdiem::sdk
