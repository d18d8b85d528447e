#include "provider_commands.hpp"

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "home_runtime.hpp"
#include "perdiem/perdiem.hpp"
#include "wallet_cli_support.hpp"

namespace perdiem::cli {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr const char* kUsageText =
    "usage: perdiem providers list [--json]\n"
    "       perdiem providers test NAME [--model MODEL] [--no-wallet]\n"
    "       perdiem providers prices [--refresh] [--json] [NAME...]\n";

int usage(const std::string& message) {
  std::cerr << "perdiem: " << message << "\n" << kUsageText;
  return kUsage;
}

int failed(const Error& error) {
  std::cerr << "perdiem: " << error.describe() << "\n";
  return kFailed;
}

// A runtime as `perdiem run` makes it: provider from the environment, routes and health
// from PERDIEM_HOME, and the home wallet unless `use_wallet` is off.
Result<std::unique_ptr<Runtime>> home_runtime(bool use_wallet, RuntimeOptions options = {}) {
  Result<RoutingOptions> routing = home_routing();
  if (!routing) return routing.error();
  options.routing = std::move(*routing);
  Result<std::vector<PriceEntry>> refreshed = home_refreshed_prices();
  if (!refreshed) return refreshed.error();
  options.prices = std::move(*refreshed);
  if (use_wallet) {
    Result<std::shared_ptr<WalletHandle>> wallet = open_home_wallet();
    if (!wallet) return wallet.error();
    options.wallet = std::move(*wallet);
  }
  return Runtime::create(std::move(options));
}

std::string joined(const std::vector<std::string>& words, const char* none = "-") {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : ",") + word;
  return text.empty() ? none : text;
}

nlohmann::json status_json(const ProviderStatus& status) {
  nlohmann::json doc = {{"name", status.name},
                        {"api", status.api},
                        {"base_url", status.base_url},
                        {"default_model", status.default_model},
                        {"local", status.local},
                        {"privacy", status.privacy},
                        {"tools", status.tools},
                        {"available", status.available},
                        {"models", status.routes},
                        {"breaker", status.breaker},
                        {"success_rate", status.success_permille / 1000.0}};
  if (!status.available) doc["unavailable"] = status.unavailable;
  if (status.latency_ms) doc["latency_ms"] = *status.latency_ms;
  return doc;
}

int list(const std::vector<std::string>& args) {
  bool json = false;
  for (const std::string& arg : args) {
    if (arg != "--json") return usage("unknown option '" + arg + "' for `perdiem providers list`");
    json = true;
  }
  Result<std::unique_ptr<Runtime>> runtime = home_runtime(/*use_wallet=*/false);
  if (!runtime) return failed(runtime.error());
  const std::vector<ProviderStatus> statuses = (*runtime)->providers();
  if (json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const ProviderStatus& status : statuses) doc.push_back(status_json(status));
    std::cout << doc.dump(2) << "\n";
    return kOk;
  }
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const ProviderStatus& s = statuses[i];
    std::cout << s.name << (i == 0 ? "  (default: " + (*runtime)->provider_reason() + ")" : "")
              << "\n    " << s.api << (s.base_url.empty() ? "" : " at " + s.base_url)
              << (s.default_model.empty() ? "" : ", model " + s.default_model)
              << "\n    privacy " << joined(s.privacy) << (s.tools ? ", tools" : ", no tools")
              << ", serves " << joined(s.routes) << "\n    ";
    if (!s.available) {
      std::cout << "unavailable: " << s.unavailable << "\n";
      continue;
    }
    std::cout << "health " << s.breaker << ", success " << s.success_permille / 10 << "%"
              << (s.latency_ms ? ", " + std::to_string(*s.latency_ms) + " ms" : "") << "\n";
  }
  return kOk;
}

int test(const std::vector<std::string>& args) {
  std::string name;
  std::string model;
  bool use_wallet = true;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--model" && i + 1 < args.size()) {
      model = args[++i];
    } else if (args[i] == "--no-wallet") {
      use_wallet = false;
    } else if (!args[i].starts_with("-") && name.empty()) {
      name = args[i];
    } else {
      return usage("unexpected '" + args[i] + "' for `perdiem providers test`");
    }
  }
  if (name.empty()) return usage("name the provider to test");

  StepEvent answered;
  RuntimeOptions options;
  options.on_step = [&answered](const StepEvent& event) {
    if (event.phase == StepPhase::finished) answered = event;
  };
  Result<std::unique_ptr<Runtime>> runtime = home_runtime(use_wallet, std::move(options));
  if (!runtime) return failed(runtime.error());
  const ProviderStatus* found = nullptr;
  const std::vector<ProviderStatus> statuses = (*runtime)->providers();
  for (const ProviderStatus& status : statuses) {
    if (status.name == name) found = &status;
  }
  if (found == nullptr) {
    return failed(make_error(ErrorKind::not_found,
                             "no provider '" + name + "': `perdiem providers list` shows them"));
  }
  if (model.empty()) model = found->default_model;
  if (model.empty()) {
    return usage("provider '" + name + "' has no default model: pass --model MODEL");
  }
  // One short answer, sent only to `name`, metered and receipted like any call.
  const std::string plan =
      "local r = model.chat{model=agent.args[1], max_tokens=8, route={providers={agent.args[2]}},"
      " messages={{role='user', content='Reply with the word OK.'}}}\n"
      "return r.content\n";
  RunOptions run_options;
  run_options.args = {model, name};
  RunResult result = (*runtime)->run_script(plan, "providers-test", run_options);
  if (!result.ok()) return failed(*result.error);
  std::cout << name << " answered in " << answered.latency.count() << " ms: "
            << answered.input_tokens << " input + " << answered.output_tokens
            << " output tokens, cost " << format_usd_display(answered.cost_nanos) << ", model "
            << answered.model << "\n    \"" << result.text << "\"\n";
  return kOk;
}

nlohmann::json price_json(const PriceEntry& entry, const char* source) {
  return {{"provider", entry.provider},
          {"model", entry.model},
          {"input", format_usd(entry.input_per_mtok)},
          {"output", format_usd(entry.output_per_mtok)},
          {"cached_input", format_usd(entry.cached_input_per_mtok)},
          {"request", format_usd(entry.per_request)},
          {"source", source}};
}

// Asks each provider named (or every available remote one) for its published prices
// and replaces that provider's entries in prices.json.
int refresh_prices(const std::string& home, std::vector<std::string> names) {
  Result<std::unique_ptr<Runtime>> runtime = home_runtime(/*use_wallet=*/false);
  if (!runtime) return failed(runtime.error());
  if (names.empty()) {
    for (const ProviderStatus& status : (*runtime)->providers()) {
      if (status.available && !status.local) names.push_back(status.name);
    }
  }
  if (names.empty()) {
    return failed(make_error(ErrorKind::not_found,
                             "no remote provider is available to ask (perdiem providers list)"));
  }
  Result<std::vector<PriceEntry>> kept = load_refreshed_prices(home);
  if (!kept) return failed(kept.error());
  int refreshed = 0;
  for (const std::string& name : names) {
    Result<std::vector<PriceEntry>> published = (*runtime)->published_prices(name);
    if (!published) {
      std::cerr << "perdiem: " << name << ": " << published.error().describe() << "\n";
      continue;
    }
    std::erase_if(*kept, [&name](const PriceEntry& entry) { return entry.provider == name; });
    kept->insert(kept->end(), published->begin(), published->end());
    std::cout << name << ": " << published->size() << " prices\n";
    ++refreshed;
  }
  if (refreshed == 0) return kFailed;
  if (Status saved = save_refreshed_prices(home, *kept); !saved.ok()) return failed(saved.error());
  return kOk;
}

int prices(const std::vector<std::string>& args) {
  bool refresh = false;
  bool json = false;
  std::vector<std::string> names;
  for (const std::string& arg : args) {
    if (arg == "--refresh") {
      refresh = true;
    } else if (arg == "--json") {
      json = true;
    } else if (!arg.starts_with("-")) {
      names.push_back(arg);
    } else {
      return usage("unknown option '" + arg + "' for `perdiem providers prices`");
    }
  }
  Result<std::string> home = home_directory();
  if (!home) return failed(home.error());
  if (refresh) return refresh_prices(*home, names);

  Result<WalletConfig> config = load_wallet_config(*home);
  if (!config) return failed(config.error());
  Result<std::vector<PriceEntry>> refreshed = load_refreshed_prices(*home);
  if (!refreshed) return failed(refreshed.error());
  const std::vector<PriceEntry> published =
      prices_below_config(std::move(*refreshed), config->prices);
  auto wanted = [&names](const PriceEntry& entry) {
    return names.empty() || std::find(names.begin(), names.end(), entry.provider) != names.end();
  };
  if (json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const PriceEntry& entry : config->prices) {
      if (wanted(entry)) doc.push_back(price_json(entry, "config"));
    }
    for (const PriceEntry& entry : published) {
      if (wanted(entry)) doc.push_back(price_json(entry, "published"));
    }
    std::cout << doc.dump(2) << "\n";
    return kOk;
  }
  auto print = [](const PriceEntry& entry, const char* source) {
    std::cout << entry.provider << "  " << entry.model << "  in $" << format_usd(entry.input_per_mtok)
              << "/M, out $" << format_usd(entry.output_per_mtok) << "/M"
              << (entry.per_request ? ", $" + format_usd(entry.per_request) + "/request" : "")
              << "  (" << source << ")\n";
  };
  for (const PriceEntry& entry : config->prices) {
    if (wanted(entry)) print(entry, "config.json");
  }
  for (const PriceEntry& entry : published) {
    if (wanted(entry)) print(entry, "published");
  }
  return kOk;
}

}  // namespace

int providers_main(const std::vector<std::string>& args) {
  if (wallet_cli::asks_for_help(args)) {
    std::cout << kUsageText;
    return kOk;
  }
  const std::string sub = args.empty() ? "" : args[0];
  const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  if (sub == "list") return list(rest);
  if (sub == "test") return test(rest);
  if (sub == "prices") return prices(rest);
  return usage(sub.empty() ? "which providers command?" : "unknown command 'providers " + sub + "'");
}

}  // namespace perdiem::cli
