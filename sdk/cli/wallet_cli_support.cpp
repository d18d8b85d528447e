#include "wallet_cli_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "perdiem/wallet.hpp"

namespace perdiem::cli::wallet_cli {

int fail(const Error& error) {
  std::cerr << "perdiem: " << error.describe() << "\n";
  return error.kind == ErrorKind::usage ? kExitUsage : kExitFailed;
}

Error usage_error(const std::string& message, std::string_view command) {
  std::string help = "perdiem ";
  if (!command.empty()) help.append(command).append(" ");
  return make_error(ErrorKind::usage, message + " (see `" + help + "--help`)");
}

// ---- Command-line words ------------------------------------------------------------------

bool asks_for_help(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  if (args[0] == "help" || args[0] == "-h") return true;
  for (const std::string& word : args) {
    if (word == "--") return false;
    if (word == "--help") return true;
  }
  return false;
}

namespace {

bool listed(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

// "--name VALUE", "--name=VALUE" and flags, in any order with the arguments; after "--"
// every word is an argument (a message may begin with "--").
// "perdiem wallet init", "perdiem runs show".
static std::string command_of(const Spec& spec) {
  std::string text = "perdiem ";
  if (!spec.command.empty()) text += std::string(spec.command) + " ";
  return text + std::string(spec.name);
}

Result<Words> parse_words(const std::vector<std::string>& words, const Spec& spec) {
  Words out;
  bool options_done = false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (options_done || word.size() < 2 || word.compare(0, 2, "--") != 0) {
      out.args.push_back(word);
      continue;
    }
    if (word == "--") {
      options_done = true;
      continue;
    }
    std::size_t eq = word.find('=');
    std::string name = word.substr(0, eq);
    if (listed(spec.flags, name) && eq == std::string::npos) {
      out.flags.insert(name);
    } else if (listed(spec.valued, name)) {
      if (eq != std::string::npos) {
        out.values[name] = word.substr(eq + 1);
      } else if (i + 1 < words.size()) {
        out.values[name] = words[++i];
      } else {
        return usage_error(name + " needs a value", spec.command);
      }
    } else {
      return usage_error("unknown option '" + name + "' for `" + command_of(spec) + "`",
                         spec.command);
    }
  }
  if (out.args.size() < spec.min_args || out.args.size() > spec.max_args) {
    std::string expected = spec.max_args == 0 ? "no arguments" : std::string(spec.args_name);
    return usage_error("`" + command_of(spec) + "` takes " + expected, spec.command);
  }
  return out;
}

// ---- Small helpers -----------------------------------------------------------------------

Result<std::string> read_input(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(ErrorKind::not_found, "cannot open " + path);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) return make_error(ErrorKind::storage, "cannot read " + path);
    text = buffer.str();
  }
  if (text.size() > kMaxInputBytes)
    return make_error(ErrorKind::invalid_argument, path + " is too large");
  return text;
}

Status write_output(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text << "\n";
  out.flush();
  if (!out) return make_error(ErrorKind::storage, "cannot write " + path);
  return {};
}

Result<KdfLevel> kdf_level() {
  const char* level = std::getenv("PERDIEM_KDF_LEVEL");
  if (level == nullptr || std::string_view(level).empty() || std::string_view(level) == "moderate")
    return KdfLevel::moderate;
  if (std::string_view(level) == "interactive") return KdfLevel::interactive;
  if (std::string_view(level) == "min") return KdfLevel::min;
  return usage_error("PERDIEM_KDF_LEVEL must be moderate, interactive or min");
}

Result<Secret> passphrase_for(const std::string& home) {
  return Secret::read_passphrase("Passphrase for the wallet in " + home + ": ");
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string scope_text(const std::vector<std::string>& providers) {
  if (providers.size() == 1 && providers[0] == "*") return "any provider";
  std::string out;
  for (const auto& p : providers) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string credits_text(Nanos amount) {
  std::string text = format_usd(amount < 0 ? -amount : amount);
  return (amount < 0 ? "-" : "") + text + (text == "1" ? " credit" : " credits");
}

// Left-aligned columns, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    std::cout << line << "\n";
  }
}

}  // namespace perdiem::cli::wallet_cli
