// Runtimes the public Runtime::create does not make: one answering every call from a
// given internal provider (replay).
#pragma once

#include <memory>
#include <string>

#include "perdiem/perdiem.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::sdk {

// Every call goes to `provider`, named provider->name(), free like a local server;
// `default_model` serves calls that name none. options.provider is ignored.
Result<std::unique_ptr<Runtime>> runtime_with_provider(
    RuntimeOptions options, std::unique_ptr<providers::Provider> provider,
    std::string default_model);

}  // namespace perdiem::sdk
