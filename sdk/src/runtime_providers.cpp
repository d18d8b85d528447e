// RuntimeImpl::providers(): what `perdiem providers list`, providers.list() and apps see
// of the provider pool and its health.
#include "base/clock.hpp"
#include "sdk/src/runtime_impl.hpp"

namespace perdiem::sdk {

std::vector<ProviderStatus> RuntimeImpl::providers() const {
  const std::int64_t now_ms = base::system_clock().now_unix_ms();
  std::vector<ProviderStatus> statuses;
  for (const auto& member : pool_.members()) {
    ProviderStatus status;
    status.name = member->name;
    status.base_url = member->base_url;
    status.api = member->api;
    status.default_model = member->default_model;
    status.local = member->tags.local;
    for (router::Privacy tag : {router::Privacy::local, router::Privacy::no_log,
                                router::Privacy::tee}) {
      if (member->tags.has(tag)) status.privacy.emplace_back(router::to_string(tag));
    }
    status.tools = member->tools;
    status.available = member->provider != nullptr;
    status.unavailable = member->unavailable;
    status.routes = pool_.routes_of(member->name);
    const router::ProviderStats stats = health_.stats(member->name, now_ms);
    status.breaker = std::string(router::to_string(stats.breaker));
    status.success_permille = stats.success_permille;
    if (stats.total_us) status.latency_ms = *stats.total_us / 1000;
    statuses.push_back(std::move(status));
  }
  return statuses;
}

}  // namespace perdiem::sdk
