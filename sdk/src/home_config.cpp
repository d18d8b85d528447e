#include "home_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <tuple>

#include <nlohmann/json.hpp>

#include "wallet/money.hpp"
#include "wallet/prices.hpp"

namespace perdiem {
namespace {

using nlohmann::json;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

Error config_error(const std::string& path, std::string_view field, std::string_view why) {
  std::string where = path;
  if (!field.empty()) where += ": \"" + std::string(field) + "\"";
  return make_error(ErrorKind::config, where + ": " + std::string(why));
}

Status parse_wallet_section(const json& section, const std::string& path, WalletConfig& out) {
  if (!section.is_object()) return config_error(path, "wallet", "must be an object");
  for (const auto& [key, value] : section.items()) {
    if (key == "trusted_issuers") {
      if (!value.is_array())
        return config_error(path, "wallet.trusted_issuers", "must be an array of addresses");
      std::size_t index = 0;
      for (const auto& entry : value) {
        std::string field = "wallet.trusted_issuers[" + std::to_string(index++) + "]";
        if (!entry.is_string()) return config_error(path, field, "must be a \"0x...\" address");
        auto address = wallet::Address::parse(entry.get_ref<const std::string&>());
        if (!address) return config_error(path, field, address.error().message);
        out.trusted_issuers.push_back(address->to_string());
      }
    } else if (key == "min_stake") {
      if (!value.is_string())
        return config_error(path, "wallet.min_stake", "must be a decimal string like \"0.1\"");
      auto amount = wallet::parse_usd(value.get_ref<const std::string&>());
      if (!amount) return config_error(path, "wallet.min_stake", amount.error().message);
      out.min_stake = *amount;
    } else {
      // Our own section is strict: a misspelt key would otherwise be ignored silently.
      return config_error(path, "wallet." + key,
                          "unknown setting (expected trusted_issuers or min_stake)");
    }
  }
  return {};
}

Status parse_prices(const json& list, const std::string& path, WalletConfig& out) {
  if (!list.is_array()) return config_error(path, "prices", "must be an array of price entries");
  auto sheet = wallet::PriceSheet::from_json_text(list.dump());
  if (!sheet) return config_error(path, "prices", sheet.error().message);
  // The sheet validated every entry; list them as written, then in a stable order.
  for (const auto& entry : list) {
    PriceEntry row;
    row.provider = entry.at("provider").get<std::string>();
    row.model = entry.at("model").get<std::string>();
    auto price = sheet->find(row.provider, row.model);
    if (!price) return config_error(path, "prices", price.error().message);
    row.input_per_mtok = price->input_per_mtok;
    row.output_per_mtok = price->output_per_mtok;
    row.cached_input_per_mtok = price->cached_input_per_mtok;
    row.per_request = price->per_request;
    out.prices.push_back(std::move(row));
  }
  std::sort(out.prices.begin(), out.prices.end(), [](const PriceEntry& a, const PriceEntry& b) {
    return std::tie(a.provider, a.model) < std::tie(b.provider, b.model);
  });
  return {};
}

}  // namespace

Result<std::string> home_directory() {
  if (std::string home = env_or_empty("PERDIEM_HOME"); !home.empty()) return home;
  if (std::string data = env_or_empty("XDG_DATA_HOME"); !data.empty()) return data + "/perdiem";
  if (std::string user = env_or_empty("HOME"); !user.empty())
    return user + "/.local/share/perdiem";
  return make_error(ErrorKind::config,
                    "no home directory for perdiem: set PERDIEM_HOME (or HOME)");
}

HomeLayout home_layout(const std::string& home) {
  std::string base = home;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return HomeLayout{home, base + "/keystore.json", base + "/wallet.db", base + "/config.json"};
}

Result<WalletConfig> load_wallet_config(const std::string& home) {
  const std::string path = home_layout(home).config;
  auto text = sdk::read_small_file(path, sdk::kMaxConfigBytes, "config");
  if (!text && text.error().kind == ErrorKind::not_found) {
    WalletConfig defaults;
    defaults.path = path;
    return defaults;
  }
  if (!text) return text.error();
  return sdk::parse_wallet_config(*text, path);
}

namespace sdk {

Result<WalletConfig> parse_wallet_config(std::string_view text, const std::string& path) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return config_error(path, "", "is not valid JSON");
  if (!doc.is_object()) return config_error(path, "", "must hold a JSON object");
  WalletConfig out;
  out.path = path;
  out.found = true;
  if (auto it = doc.find("wallet"); it != doc.end()) {
    Status st = parse_wallet_section(*it, path, out);
    if (!st.ok()) return st.error();
  }
  if (auto it = doc.find("prices"); it != doc.end()) {
    Status st = parse_prices(*it, path, out);
    if (!st.ok()) return st.error();
  }
  return out;
}

std::vector<wallet::Address> trusted_addresses(const WalletConfig& config) {
  std::vector<wallet::Address> out;
  for (const auto& text : config.trusted_issuers) {
    auto address = wallet::Address::parse(text);
    if (address) out.push_back(*address);
  }
  return out;
}

Status ensure_home(const std::string& home) {
  if (home.empty()) return make_error(ErrorKind::invalid_argument, "the home directory is empty");
  std::error_code ec;
  std::filesystem::path dir(home);
  if (std::filesystem::is_directory(dir, ec)) return {};
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec)
      return make_error(ErrorKind::storage,
                        "cannot create " + dir.parent_path().string() + ": " + ec.message());
  }
  if (::mkdir(home.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(ErrorKind::storage,
                      "cannot create " + home + ": " + std::strerror(errno));
  if (!std::filesystem::is_directory(dir, ec))
    return make_error(ErrorKind::storage, home + " exists and is not a directory");
  return {};
}

Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes,
                                    std::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(ErrorKind::not_found, "no " + std::string(what) + " at " + path);
    return make_error(ErrorKind::storage, "cannot open " + std::string(what) + " " + path + ": " +
                                              std::strerror(errno));
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      return make_error(ErrorKind::storage, "cannot read " + std::string(what) + " " + path +
                                                ": " + std::strerror(saved));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return make_error(ErrorKind::storage, std::string(what) + " " + path +
                                                " is larger than " + std::to_string(max_bytes) +
                                                " bytes");
    }
  }
  ::close(fd);
  return text;
}

}  // namespace sdk
}  // namespace perdiem
