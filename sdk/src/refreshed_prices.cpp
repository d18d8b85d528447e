// <home>/prices.json: prices providers publish, refreshed by `perdiem providers prices
// --refresh`, kept apart from config.json (which is the owner's, edited by hand).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "perdiem/routing.hpp"
#include "sdk/src/home_config.hpp"

namespace perdiem {
namespace {

std::string prices_path(const std::string& home) { return home + "/prices.json"; }

}  // namespace

Result<std::vector<PriceEntry>> load_refreshed_prices(const std::string& home) {
  const std::string path = prices_path(home);
  Result<std::string> text = sdk::read_small_file(path, 16u << 20, "prices.json");
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) return std::vector<PriceEntry>{};
    return text.error();
  }
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("prices")) {
    return make_error(ErrorKind::config,
                      path + " is not a price list; delete it and run `perdiem providers "
                             "prices --refresh`");
  }
  // The same validation as config.json's prices.
  Result<WalletConfig> parsed =
      sdk::parse_wallet_config(nlohmann::json{{"prices", doc["prices"]}}.dump(), path);
  if (!parsed) return parsed.error();
  return std::move(parsed->prices);
}

Status save_refreshed_prices(const std::string& home, const std::vector<PriceEntry>& prices) {
  nlohmann::json list = nlohmann::json::array();
  for (const PriceEntry& entry : prices) {
    list.push_back({{"provider", entry.provider},
                    {"model", entry.model},
                    {"input", format_usd(entry.input_per_mtok)},
                    {"output", format_usd(entry.output_per_mtok)},
                    {"cached_input", format_usd(entry.cached_input_per_mtok)},
                    {"request", format_usd(entry.per_request)}});
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const nlohmann::json doc = {
      {"refreshed_at_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
      {"prices", std::move(list)}};
  const std::string text = doc.dump(1) + "\n";
  const std::string path = prices_path(home);
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorKind::storage, "cannot write " + path + ": " + std::strerror(errno));
  }
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::fsync(fd) == 0 && written;
  written = ::close(fd) == 0 && written;
  if (!written || std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    return make_error(ErrorKind::storage, "cannot write " + path + ": " + reason);
  }
  return Status::success();
}

std::vector<PriceEntry> prices_below_config(std::vector<PriceEntry> refreshed,
                                            const std::vector<PriceEntry>& config_prices) {
  std::set<std::string, std::less<>> owned;
  for (const PriceEntry& entry : config_prices) owned.insert(entry.provider);
  std::erase_if(refreshed, [&owned](const PriceEntry& entry) {
    return owned.count(entry.provider) != 0;
  });
  return refreshed;
}

}  // namespace perdiem
