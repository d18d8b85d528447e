// Routing: the same open model is sold by several providers at different prices, speeds
// and privacy. A route names a logical model ("llama-3.3-70b") and the providers that
// serve it, each under its own model id; for every call to that name the runtime's
// router ranks them (price, latency or reliability, under the call's constraints),
// retries, falls back to the next, and records why in the step's trace.
//
// In PERDIEM_HOME/config.json (docs/providers.md):
//
//   "providers": {
//     "venice":  {"privacy": ["no-log"]},
//     "my-vllm": {"base_url": "http://10.0.0.5:8000/v1", "key_env": "MY_VLLM_KEY"}
//   },
//   "models": {
//     "llama-3.3-70b": [
//       {"provider": "venice",  "model": "llama-3.3-70b"},
//       {"provider": "groq",    "model": "llama-3.3-70b-versatile"},
//       {"provider": "ollama",  "model": "llama3.3"}
//     ]
//   },
//   "routing": {"prefer": "price", "local_fallback": true, "retries": 2}
//
// A preset provider (openrouter, venice, groq, ollama, ...) may be used in a route without
// being listed under "providers". A provider whose key variable is unset stays out of
// every route (the step's trace says so) instead of failing the runtime.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/export.h"
#include "perdiem/wallet.hpp"

namespace perdiem {

// A provider the router may send calls to, besides the one ProviderSettings chose.
struct ProviderEndpoint {
  std::string name;      // a preset's name ("venice") or one of your own ("my-vllm")
  std::string base_url;  // "" = the preset's; required for a name that is not a preset
  std::string api;       // "openai" or "anthropic"; "" = the preset's style, else "openai"
  std::string key_env;   // the variable holding its key; "" = the preset's (or none)
  // Claims you make about the provider: "no-log", "tee". "local" is implied by a
  // loopback base URL and cannot be claimed for a remote one.
  std::vector<std::string> privacy;
  bool tools = true;  // whether it takes tool definitions (function calling)
};

// One provider serving a logical model, under that provider's own model id.
struct RouteTarget {
  std::string provider;
  std::string model;
};

struct ModelRoute {
  std::string name;  // the logical model plans ask for: model.chat{model="llama-3.3-70b"}
  std::vector<RouteTarget> targets;
};

struct RoutingOptions {
  std::vector<ProviderEndpoint> providers;
  std::vector<ModelRoute> models;
  // The policy for calls that do not choose one: "price", "latency" or "reliability".
  std::string prefer = "price";
  // When every remote provider of a call is unreachable, try the route's local ones
  // even if the call's own constraints left them out.
  bool local_fallback = false;
  int retries = 2;  // retries at one provider before the next is tried (0..10)
  // Where provider health (latency, success rate, circuit breakers) persists across
  // runs; "" keeps it for the runtime's lifetime only. The command line uses
  // PERDIEM_HOME/health.json.
  std::string health_path;
};

// The "providers", "models" and "routing" sections of <home>/config.json; empty options
// when the file or the sections are absent. config error naming the file and field when
// they are malformed.
PERDIEM_API Result<RoutingOptions> routing_from_config(const std::string& home);

// Prices providers publish (GET /models; OpenRouter does), kept by `perdiem providers
// prices --refresh` in <home>/prices.json, in config.json's price format plus
// "refreshed_at". They rank below config.json: a provider with any price entry there is
// never repriced by a refresh. Empty when the file is absent; config error when it is
// malformed.
PERDIEM_API Result<std::vector<PriceEntry>> load_refreshed_prices(const std::string& home);
// Replaces <home>/prices.json (written whole, then renamed into place).
PERDIEM_API Status save_refreshed_prices(const std::string& home,
                                         const std::vector<PriceEntry>& prices);
// load_refreshed_prices without the providers `config_prices` already prices: what to
// pass as RuntimeOptions::prices so the owner's own prices win.
PERDIEM_API std::vector<PriceEntry> prices_below_config(std::vector<PriceEntry> refreshed,
                                                        const std::vector<PriceEntry>& config_prices);

// What Runtime::providers() and the Lua providers.list() report about one provider.
struct ProviderStatus {
  std::string name;
  std::string base_url;      // "" for the sim
  std::string api;           // "openai", "anthropic", "sim", "host"
  std::string default_model;  // for calls that name no model; "" when it has none
  bool local = false;        // on this machine, and free unless priced
  std::vector<std::string> privacy;  // "local", "no-log", "tee"
  bool tools = true;
  bool available = true;     // false: `unavailable` says why (an unset key variable)
  std::string unavailable;
  std::vector<std::string> routes;  // the logical models it serves
  // Health as the router sees it.
  std::string breaker = "closed";  // "closed", "open", "half-open"
  int success_permille = 500;      // recent success rate; 500 when never tried
  std::optional<std::int64_t> latency_ms;  // moving average of total time
};

}  // namespace perdiem
