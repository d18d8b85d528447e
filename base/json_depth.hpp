// A bound to check before parsing untrusted JSON.
#pragma once

#include <cstddef>
#include <string_view>

namespace perdiem::base {

// True when `text` nests arrays/objects deeper than `limit`, counting only brackets
// outside strings. A linear scan without allocation or recursion, so hostile input is
// refused before a parser builds (or recurses over) thousands of nested values.
bool json_nests_deeper_than(std::string_view text, std::size_t limit);

}  // namespace perdiem::base
