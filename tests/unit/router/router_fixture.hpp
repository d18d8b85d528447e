// Small builders shared by the router's tests.
#pragma once

#include <string>

#include "runtime/router/candidates.hpp"

namespace perdiem::router::testing {

// A remote candidate serving "m-<provider>" at the given nano-USD per million tokens.
inline Candidate remote(std::string provider, Nanos input_per_mtok, Nanos output_per_mtok) {
  Candidate c;
  c.provider = std::move(provider);
  c.model = "m-" + c.provider;
  c.price = {input_per_mtok, output_per_mtok, 0};
  return c;
}

inline Candidate local(std::string provider) {
  Candidate c = remote(std::move(provider), 0, 0);
  c.tags.local = true;
  return c;
}

}  // namespace perdiem::router::testing
