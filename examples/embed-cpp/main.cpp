// embed-cpp: the smallest complete app that embeds perdiem through its C++ API.
//
//   embed-cpp [question]                 runs the built-in agent below on the question
//   embed-cpp --file plan.lua [args...]  runs a plan file with its agent.args
//
// With no provider configured it uses the offline `sim` provider, which is free and
// deterministic. Prints the agent's answer, what the run cost and its run id; every
// failure is a value (perdiem::Error) that is printed, never an exception.
#include <atomic>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <perdiem/perdiem.hpp>

namespace {

// The agent this app runs when given no file: note the question with the app's own
// tool, then ask the model.
constexpr const char* kAgent = R"lua(
local question = agent.args[1] or "Why should an agent hold its own budget?"
tool.call("app.note", { text = question })
local reply = model.chat{ messages = { { role = "user", content = question } } }
return reply.content
)lua";

// What the app's tool has been given. Tool handlers run on the threads running plans,
// several at once, so the app guards its state.
std::mutex notes_mutex;
std::vector<std::string> notes;

// Runs started, and agents running now (the run and any sub-agents it spawned), counted
// from run events, which come from the threads running plans.
std::atomic<int> runs_started{0};
std::atomic<int> agents_running{0};

// A host tool: a name, a description the model reads, a JSON Schema for its arguments
// and a handler that gets them validated, as JSON text.
perdiem::HostTool note_tool() {
  perdiem::HostTool tool;
  tool.name = "app.note";
  tool.description = "Keeps a note in the host app.";
  tool.parameters_json =
      R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]})";
  tool.handler = [](const std::string& arguments) -> perdiem::Result<std::string> {
    std::lock_guard<std::mutex> lock(notes_mutex);
    notes.push_back(arguments);
    return std::string("noted");
  };
  return tool;
}

// The model's answer as it arrives, for a live display: model.stream calls report each
// piece of text as a `delta` step event, and stream_chat asks the same of model.chat.
// Events come from the thread running the plan (this app runs one plan at a time).
void show_live_text(const perdiem::StepEvent& event) {
  if (event.phase == perdiem::StepPhase::delta) {
    std::cerr << event.delta_text << std::flush;
  } else if (event.phase == perdiem::StepPhase::finished && event.kind == perdiem::StepKind::chat) {
    std::cerr << "\n";
  }
}

// Everything the app decides about its runtime lives here: which provider, the wallet,
// where log lines go, and the host's own capabilities as the SDK grows them.
perdiem::RuntimeOptions runtime_options() {
  perdiem::RuntimeOptions options;
  options.provider.use_environment = true;  // PERDIEM_PROVIDER etc., else the sim
  options.on_log = [](perdiem::LogLevel, std::string_view line) {
    std::cerr << "[agent] " << line << "\n";
  };
  options.tools.push_back(note_tool());
  options.on_step = show_live_text;
  options.stream_chat = true;
  options.on_run = [](const perdiem::RunEvent& event) {
    if (event.phase == perdiem::RunPhase::started) ++runs_started;
    agents_running += event.phase == perdiem::RunPhase::started ? 1 : -1;
  };
  return options;
}

// One run's limits: here a budget of one US cent, enforced before each model call.
perdiem::RunOptions run_options(std::vector<std::string> args) {
  perdiem::RunOptions options;
  options.args = std::move(args);
  options.budget = perdiem::kNanosPerUsd / 100;
  return options;
}

int report(const perdiem::RunResult& result) {
  if (!result.ok()) {
    std::cerr << "agent failed: " << result.error->describe() << "\n";
    return 1;
  }
  std::cout << "answer: " << result.text << "\n";
  std::cout << "cost: " << perdiem::format_usd_display(result.usage.cost) << " over "
            << result.usage.model_calls << " model call(s)\n";
  std::cout << "run id: " << result.run_id << "\n";
  std::cout << "runs: " << runs_started.load() << " started, " << agents_running.load()
            << " still running\n";
  std::cout << "served by:";
  for (const std::string& provider : result.providers) std::cout << " " << provider;
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);

  auto runtime = perdiem::Runtime::create(runtime_options());
  if (!runtime) {
    std::cerr << "cannot start perdiem: " << runtime.error().describe() << "\n";
    return 1;
  }
  std::cout << "perdiem " << perdiem::version() << ", provider " << (*runtime)->provider_name()
            << "\n";

  if (!args.empty() && args.front() == "--file") {
    if (args.size() < 2) {
      std::cerr << "usage: embed-cpp --file plan.lua [args...]\n";
      return 2;
    }
    const std::string path = args[1];
    args.erase(args.begin(), args.begin() + 2);
    return report((*runtime)->run_file(path, run_options(std::move(args))));
  }
  const int exit_code =
      report((*runtime)->run_script(kAgent, "embed-cpp-agent", run_options(std::move(args))));
  std::cout << "notes kept by the app's tool: " << notes.size() << "\n";
  return exit_code;
}
