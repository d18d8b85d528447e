// The providers one runtime can send calls to, and the logical models they serve: the
// provider ProviderSettings chose (the primary) plus those RoutingOptions lists or its
// routes name. For each call the pool answers "who may serve model M" as router
// candidates; the router ranks them. Internal to sdk/src.
// Thread-safety: built once, then read-only; concurrent reads are safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/routing.hpp"
#include "runtime/http/transport.hpp"
#include "runtime/providers/provider.hpp"
#include "runtime/providers/provider_config.hpp"
#include "runtime/router/candidates.hpp"

namespace perdiem::sdk {

struct PoolMember {
  std::string name;
  std::string base_url;
  std::string api;  // "openai", "anthropic", "sim", "host"
  // Null when the provider cannot be used on this machine; `unavailable` says why.
  std::unique_ptr<providers::Provider> provider;
  std::string unavailable;
  router::Tags tags;   // tags.local: on this machine, free unless the price sheet names it
  bool tools = true;
  std::string default_model;
};

// One way to serve a call: a member and the model id it knows the model by.
struct PoolTarget {
  const PoolMember* member;
  std::string model;
};

class ProviderPool {
 public:
  // `primary` must have a provider. Endpoints and route targets naming presets or
  // endpoints are built with `transport`; their keys come from `env`. config error for an
  // endpoint that is neither a preset nor has a base URL, a route naming an unknown
  // provider, or a name given twice.
  static Result<ProviderPool> create(PoolMember primary, const RoutingOptions& routing,
                                     const providers::GetEnv& env,
                                     std::shared_ptr<http::Transport> transport);

  const PoolMember& primary() const { return *members_.front(); }
  const PoolMember* find(std::string_view name) const;
  const std::vector<std::unique_ptr<PoolMember>>& members() const { return members_; }

  // Who may serve `model`: the route's targets when `model` names a route, else the
  // primary provider under that model id.
  std::vector<PoolTarget> targets_for(const std::string& model) const;
  bool is_route(std::string_view model) const { return routes_.count(model) != 0; }
  // The logical models `provider` serves, sorted.
  std::vector<std::string> routes_of(std::string_view provider) const;

  // Every API key the pool holds, for redaction from memory.db (views into locked memory
  // that live as long as the pool).
  std::vector<std::string_view> secrets() const { return secrets_; }

 private:
  std::vector<std::unique_ptr<PoolMember>> members_;  // the primary first
  std::map<std::string, std::vector<RouteTarget>, std::less<>> routes_;
  std::vector<std::string_view> secrets_;
};

}  // namespace perdiem::sdk
