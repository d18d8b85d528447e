#include "memory_commands.hpp"

#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "perdiem/memory.hpp"
#include "wallet_cli_support.hpp"

namespace perdiem::cli {
namespace {

using wallet_cli::asks_for_help;
using wallet_cli::fail;
using wallet_cli::kExitFailed;
using wallet_cli::kExitOk;
using wallet_cli::kExitUsage;
using wallet_cli::parse_words;
using wallet_cli::Spec;
using wallet_cli::usage_error;
using wallet_cli::Words;

constexpr const char* kRunsUsage =
    "usage: perdiem runs list [--limit N] | show RUN_ID [--json] | export RUN_ID\n";
constexpr const char* kMemoryUsage =
    "usage: perdiem memory stats | search QUERY [--k N] [--ns NS] | prune --older-than AGE | "
    "vacuum\n";
constexpr const char* kReplayUsage = "usage: perdiem replay RUN_ID [--script PATH] [--quiet]\n";

Result<std::string> memory_path() {
  Result<std::string> home = home_directory();
  if (!home) return home.error();
  return *home + "/memory.db";
}

Result<std::unique_ptr<MemoryFile>> open_memory() {
  Result<std::string> path = memory_path();
  if (!path) return path.error();
  return MemoryFile::open(*path);
}

std::string utc_time(std::int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &parts);
  return text;
}

// "30d", "12h", "45m", "90s" as milliseconds.
Result<std::chrono::milliseconds> parse_age(const std::string& text) {
  if (text.size() < 2)
    return usage_error("--older-than takes a number and a unit: 30d, 12h, 45m", "memory");
  const char unit = text.back();
  std::int64_t count = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9' || count > 1'000'000) {
      return usage_error("--older-than takes a number and a unit: 30d, 12h, 45m", "memory");
    }
    count = count * 10 + (c - '0');
  }
  const std::int64_t unit_ms = unit == 'd'   ? 86'400'000
                               : unit == 'h' ? 3'600'000
                               : unit == 'm' ? 60'000
                               : unit == 's' ? 1'000
                                             : 0;
  if (unit_ms == 0)
    return usage_error("--older-than's unit is d, h, m or s: 30d, 12h, 45m", "memory");
  return std::chrono::milliseconds(count * unit_ms);
}

int runs_list(const Words& words) {
  std::size_t limit = 20;
  if (const std::string* text = words.value("--limit")) {
    try {
      limit = std::stoul(*text);
    } catch (...) {
      return fail(usage_error("--limit takes a positive number", "runs"));
    }
    if (limit == 0) return fail(usage_error("--limit takes a positive number", "runs"));
  }
  auto memory = open_memory();
  if (!memory) return fail(memory.error());
  auto runs = (*memory)->runs(limit);
  if (!runs) return fail(runs.error());
  std::vector<std::vector<std::string>> rows{
      {"RUN", "STATUS", "STEPS", "COST", "STARTED (UTC)", "AGENT", "SCRIPT"}};
  for (const RunInfo& run : *runs) {
    rows.push_back({run.id, run.status, std::to_string(run.steps),
                    format_usd_display(run.cost_nanos), utc_time(run.started_ms),
                    run.agent.empty() ? "-" : run.agent, run.script});
  }
  wallet_cli::print_table(rows);
  return kExitOk;
}

int runs_show(const Words& words) {
  auto memory = open_memory();
  if (!memory) return fail(memory.error());
  auto json = (*memory)->run_json(words.args[0]);
  if (!json) return fail(json.error());
  if (words.flag("--json")) {
    std::cout << *json << "\n";
    return kExitOk;
  }
  auto doc = nlohmann::json::parse(*json);
  std::cout << "run      " << doc["id"].get<std::string>() << "\n"
            << "status   " << doc["status"].get<std::string>() << "\n"
            << "script   " << doc["script"].get<std::string>() << "\n"
            << "started  " << utc_time(doc["started_ms"].get<std::int64_t>()) << " UTC\n"
            << "cost     " << format_usd_display(doc["cost_nanos"].get<std::int64_t>()) << "\n";
  if (!doc["error"].get<std::string>().empty()) {
    std::cout << "error    " << doc["error"].get<std::string>() << "\n";
  } else {
    std::cout << "result   " << doc["result"].dump() << "\n";
  }
  std::vector<std::vector<std::string>> rows{
      {"STEP", "KIND", "PROVIDER", "MODEL", "TOKENS IN/OUT", "COST", "MS", "RECEIPT"}};
  for (const auto& step : doc["steps"]) {
    rows.push_back({std::to_string(step["seq"].get<std::int64_t>()), step["kind"], step["provider"],
                    step["model"],
                    std::to_string(step["input_tokens"].get<std::int64_t>()) + "/" +
                        std::to_string(step["output_tokens"].get<std::int64_t>()),
                    format_usd_display(step["cost_nanos"].get<std::int64_t>()),
                    std::to_string(step["latency_ms"].get<std::int64_t>()),
                    step["error"].get<std::string>().empty()
                        ? step["receipt_id"].get<std::string>()
                        : "error: " + step["error"].get<std::string>()});
  }
  wallet_cli::print_table(rows);
  return kExitOk;
}

int runs_export(const Words& words) {
  auto memory = open_memory();
  if (!memory) return fail(memory.error());
  auto lines = (*memory)->export_jsonl(words.args[0]);
  if (!lines) return fail(lines.error());
  std::cout << *lines;
  return kExitOk;
}

}  // namespace

std::string run_memory_path() {
  Result<std::string> home = home_directory();
  if (!home) return {};
  std::error_code error;
  const std::filesystem::path dir(*home);
  if (!std::filesystem::is_directory(dir, error)) {
    // Create the home itself, never its parents: a mistyped PERDIEM_HOME must not
    // scatter directories.
    if (!std::filesystem::is_directory(dir.parent_path(), error)) return {};
    if (::mkdir(dir.c_str(), 0700) != 0 && !std::filesystem::is_directory(dir, error)) return {};
  }
  return (dir / "memory.db").string();
}

int runs_main(const std::vector<std::string>& args) {
  if (asks_for_help(args)) {
    std::cout << kRunsUsage;
    return kExitOk;
  }
  const std::string sub = args.empty() ? "" : args[0];
  Spec spec;
  if (sub == "list") {
    spec = {"list", {"--limit"}, {}, 0, 0, "", "runs"};
  } else if (sub == "show") {
    spec = {"show", {}, {"--json"}, 1, 1, "RUN_ID", "runs"};
  } else if (sub == "export") {
    spec = {"export", {}, {}, 1, 1, "RUN_ID", "runs"};
  } else {
    std::cerr << "perdiem: " << kRunsUsage;
    return kExitUsage;
  }
  auto words = parse_words(args, spec);
  if (!words) return fail(words.error());
  if (sub == "list") return runs_list(*words);
  if (sub == "show") return runs_show(*words);
  return runs_export(*words);
}

int replay_main(const std::vector<std::string>& args) {
  if (asks_for_help(args)) {
    std::cout << kReplayUsage;
    return kExitOk;
  }
  std::vector<std::string> with_name{"replay"};
  with_name.insert(with_name.end(), args.begin(), args.end());
  auto words =
      parse_words(with_name, Spec{"replay", {"--script"}, {"--quiet"}, 1, 1, "RUN_ID", ""});
  if (!words) return fail(words.error());
  auto path = memory_path();
  if (!path) return fail(path.error());
  ReplayOptions options;
  options.memory_path = *path;
  options.run_id = words->args[0];
  if (const std::string* script = words->value("--script")) options.script_path = *script;
  auto replayed = replay_run(options);
  if (!replayed) return fail(replayed.error());
  const RunResult& result = replayed->result;
  if (result.ok()) {
    std::cout << result.text;
    if (result.text.empty() || result.text.back() != '\n') std::cout << "\n";
  }
  if (!words->flag("--quiet")) {
    std::cerr << "perdiem: replayed " << replayed->steps_replayed << " recorded step"
              << (replayed->steps_replayed == 1 ? "" : "s") << " of " << options.run_id
              << " with no network and no spend; "
              << (replayed->matches_recording
                      ? "the result matches the recording"
                      : "the result DIFFERS from the recording: " + replayed->recorded_json)
              << "\n";
  }
  if (!result.ok()) wallet_cli::fail(*result.error);
  return replayed->matches_recording ? kExitOk : kExitFailed;
}

int memory_main(const std::vector<std::string>& args) {
  if (asks_for_help(args)) {
    std::cout << kMemoryUsage;
    return kExitOk;
  }
  const std::string sub = args.empty() ? "" : args[0];
  Spec spec;
  if (sub == "stats") {
    spec = {"stats", {}, {}, 0, 0, "", "memory"};
  } else if (sub == "search") {
    spec = {"search", {"--k", "--ns"}, {}, 1, 1, "QUERY", "memory"};
  } else if (sub == "prune") {
    spec = {"prune", {"--older-than"}, {}, 0, 0, "", "memory"};
  } else if (sub == "vacuum") {
    spec = {"vacuum", {}, {}, 0, 0, "", "memory"};
  } else {
    std::cerr << "perdiem: " << kMemoryUsage;
    return kExitUsage;
  }
  auto words = parse_words(args, spec);
  if (!words) return fail(words.error());
  std::chrono::milliseconds age{0};
  if (sub == "prune") {
    const std::string* text = words->value("--older-than");
    if (text == nullptr)
      return fail(usage_error("memory prune needs --older-than AGE, e.g. 30d", "memory"));
    auto parsed = parse_age(*text);
    if (!parsed) return fail(parsed.error());
    age = *parsed;
  }
  auto memory = open_memory();
  if (!memory) return fail(memory.error());
  if (sub == "stats") {
    auto stats = (*memory)->stats();
    if (!stats) return fail(stats.error());
    wallet_cli::print_table({{"runs", std::to_string(stats->runs)},
                             {"steps", std::to_string(stats->steps)},
                             {"threads", std::to_string(stats->threads)},
                             {"messages", std::to_string(stats->messages)},
                             {"facts", std::to_string(stats->facts)},
                             {"documents", std::to_string(stats->documents)},
                             {"chunks", std::to_string(stats->chunks)},
                             {"embeddings", std::to_string(stats->embeddings)},
                             {"bytes", std::to_string(stats->file_bytes)},
                             {"schema", std::to_string(stats->schema_version)}});
    return kExitOk;
  }
  if (sub == "search") {
    std::size_t k = 5;
    if (const std::string* text = words->value("--k")) {
      try {
        k = std::stoul(*text);
      } catch (...) {
        return fail(usage_error("--k takes a number from 1 to 1000", "memory"));
      }
    }
    const std::string* ns = words->value("--ns");
    auto hits = (*memory)->search(words->args[0], k, ns ? *ns : std::string());
    if (!hits) return fail(hits.error());
    for (const MemoryHit& hit : *hits) {
      std::cout << hit.ns << (hit.source.empty() ? "" : " " + hit.source) << "  " << hit.text
                << "\n";
    }
    return kExitOk;
  }
  if (sub == "prune") {
    auto pruned = (*memory)->prune_runs_older_than(age);
    if (!pruned) return fail(pruned.error());
    std::cout << "pruned " << *pruned << " run" << (*pruned == 1 ? "" : "s") << "\n";
    return kExitOk;
  }
  Status vacuumed = (*memory)->vacuum();
  if (!vacuumed.ok()) return fail(vacuumed.error());
  std::cout << "vacuumed\n";
  return kExitOk;
}

}  // namespace perdiem::cli
