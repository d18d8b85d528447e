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

namespace perdiem::sdk {

Result<std::vector<PriceEntry>> RuntimeImpl::published_prices(const std::string& provider) {
  const PoolMember* member = pool_.find(provider);
  if (member == nullptr) {
    return make_error(ErrorKind::not_found, "no provider '" + provider + "' in this runtime");
  }
  if (!member->provider) return make_error(ErrorKind::config, member->unavailable, provider);
  Result<std::vector<providers::ListedModel>> models = member->provider->list_models();
  if (!models) return models.error();
  std::vector<PriceEntry> prices;
  for (const providers::ListedModel& model : *models) {
    if (!model.price) continue;
    PriceEntry entry;
    entry.provider = provider;
    entry.model = model.id;
    entry.input_per_mtok = model.price->input_per_mtok;
    entry.output_per_mtok = model.price->output_per_mtok;
    entry.cached_input_per_mtok =
        model.price->cached_input_per_mtok.value_or(model.price->input_per_mtok);
    entry.per_request = model.price->per_request;
    prices.push_back(std::move(entry));
  }
  if (prices.empty()) {
    return make_error(ErrorKind::not_found,
                      "provider '" + provider + "' publishes no prices in its model list",
                      provider);
  }
  return prices;
}

}  // namespace perdiem::sdk
