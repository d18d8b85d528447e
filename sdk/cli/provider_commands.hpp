// `perdiem providers list|test`: the providers calls can go to, the routes they serve and
// their health; and one cheap metered call to check that a provider answers.
#pragma once

#include <string>
#include <vector>

namespace perdiem::cli {

// Takes the words after `providers`; returns 0 success, 1 failure, 2 usage error.
int providers_main(const std::vector<std::string>& args);

}  // namespace perdiem::cli
