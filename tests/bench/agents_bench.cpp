// agents_bench: what running agents costs, through the public SDK as an app runs them.
//   calls/s     one plan making model calls in a loop against the in-process sim (zero
//               latency): every call metered (reserve, settle, receipt) and traced.
//               Scratch stores live on /dev/shm when it exists ("metering in memory":
//               the wallet's and memory.db's fsyncs cost nothing there).
//   scheduled   the calls/s loop as a background run on the scheduler (every call a yield).
//   fan-out     N agents at once on the scheduler, each making 5 calls to the sim with
//               50 ms of simulated latency, against the ideal 250 ms; then what bounds
//               it here (the CPU used over the machine's cores, the busiest one-thread
//               stage) and what the target would need.
//   idle        resident memory per agent while N agents sleep inside their plans.
//   calls/s, scheduled and fan-out also print each thread's CPU per call (per agent), by
//   thread name: on two cores it is their sum, not the plan's thread, that bounds them.
//   Every line names the process's allocator (mimalloc for agents_bench, as the perdiem
//   command runs; glibc for agents_bench_glibc), found by asking mimalloc whether it
//   owns a fresh malloc block, not assumed from the build.
// Usage: agents_bench [agents=10000] [calls=20000] [calls_per_agent=5]
//                     [only=idle|calls|scheduled|start|fan-out]
//   `only` runs one measure, for a profiler.
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "perdiem/perdiem.hpp"

using namespace perdiem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const char* what, const Error& error) {
  std::fprintf(stderr, "agents_bench: %s: %s\n", what, error.describe().c_str());
  std::exit(1);
}

// CPU seconds this process has used, every thread together.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// CPU seconds each of this process's threads has used, summed by thread name (the
// runtime names its threads perdiem-tabs, perdiem-memory, ...; Linux keeps 15 characters
// of a name). A thread's CPU clock is read by its id: Linux's clock id for a thread is
// (~tid << 3) | 6 (CPUCLOCK_SCHED 2 | CPUCLOCK_PERTHREAD_MASK 4), what
// pthread_getcpuclockid returns for a pthread_t we do not have here. A thread that ended
// between two readings is missing from the second: the runtime's threads live as long
// as the runtime, so only an empty reading (no /proc) is a failure.
struct ThreadsCpu {
  double seconds = 0;
  int threads = 0;  // how many live threads bear the name
};
using CpuByThread = std::map<std::string, ThreadsCpu>;

CpuByThread cpu_seconds_by_thread() {
  CpuByThread by_name;
  std::error_code error;
  for (std::filesystem::directory_iterator task("/proc/self/task", error), end;
       !error && task != end; task.increment(error)) {
    const std::string id = task->path().filename().string();
    unsigned tid = 0;
    if (std::from_chars(id.data(), id.data() + id.size(), tid).ec != std::errc()) continue;
    std::string name;
    std::getline(std::ifstream(task->path() / "comm"), name);
    timespec used{};
    if (::clock_gettime(static_cast<clockid_t>((~tid << 3) | 6u), &used) != 0) continue;
    ThreadsCpu& named = by_name[name];
    named.seconds += static_cast<double>(used.tv_sec) + static_cast<double>(used.tv_nsec) / 1e9;
    ++named.threads;
  }
  if (by_name.empty()) {
    std::fprintf(stderr, "agents_bench: cannot read the threads' CPU clocks (/proc/self/task)\n");
    std::exit(1);
  }
  return by_name;
}

// CPU seconds the threads named `name` used between two readings.
double used_between(const CpuByThread& before, const std::string& name, const ThreadsCpu& now) {
  const auto earlier = before.find(name);
  return now.seconds - (earlier == before.end() ? 0 : earlier->second.seconds);
}

// "  CPU per call by thread: agents_bench 7.0 us, perdiem-tabs 4.5 us, ... (sum 19.2 us)":
// what each thread used between two readings of cpu_seconds_by_thread, per call (or per
// agent: `unit`). A sync plan runs on the program's own thread (named after it);
// scheduled plans run on the event loops, perdiem-http.
void print_cpu_by_thread(const CpuByThread& before, const CpuByThread& after, int count,
                         const char* unit = "call") {
  std::vector<std::pair<double, std::string>> used;
  double sum = 0;
  for (const auto& [name, now] : after) {
    const double us = used_between(before, name, now) * 1e6 / count;
    sum += us;
    if (us >= 0.05) used.emplace_back(us, name);
  }
  std::sort(used.rbegin(), used.rend());
  std::string line;
  for (const auto& [us, name] : used) {
    char one[96];
    std::snprintf(one, sizeof one, "%s%s %.1f us", line.empty() ? "" : ", ", name.c_str(), us);
    line += one;
  }
  std::printf("  CPU per %s by thread: %s (sum %.1f us)\n", unit, line.c_str(), sum);
}

// "mimalloc" when malloc is mimalloc's (linked into this program), else "glibc".
const char* process_allocator() {
  using Owns = bool (*)(const void*);
  // libperdiem brings mimalloc in for its Lua heaps either way; dlsym finds it there.
  auto owns = reinterpret_cast<Owns>(::dlsym(RTLD_DEFAULT, "mi_is_in_heap_region"));
  void* block = std::malloc(64);
  const bool mimalloc = owns != nullptr && owns(block);
  std::free(block);
  return mimalloc ? "mimalloc" : "glibc";
}

const char* const kAllocator = process_allocator();

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::unique_ptr<Runtime> make_runtime(std::int64_t sim_latency_ms = 0) {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  options.provider.sim_latency_ms = sim_latency_ms;
  auto runtime = Runtime::create(std::move(options));
  if (!runtime) die("runtime", runtime.error());
  return std::move(*runtime);
}

// One plan making `calls` model calls in a loop, with no instruction limit.
constexpr const char* kCallLoop =
    "for i = 1, tonumber(agent.args[1]) do\n"
    "  model.chat{messages={{role='user', content='hi'}}, max_tokens=8}\n"
    "end\n"
    "return 'done'\n";

RunOptions call_loop_options(int calls) {
  RunOptions options;
  options.args = {std::to_string(calls)};
  options.instruction_limit = 0;
  return options;
}

void calls_per_second(int calls) {
  auto runtime = make_runtime();
  const auto cpu_before = cpu_seconds_by_thread();
  const auto start = Clock::now();
  RunResult result = runtime->run_script(kCallLoop, "bench.lua", call_loop_options(calls));
  const double wall = seconds_since(start);
  const auto cpu_after = cpu_seconds_by_thread();  // the runtime's threads are still alive
  if (!result.ok()) die("calls", *result.error);
  const double rate = calls / wall;
  std::printf(
      "agents_bench [%s malloc] calls/s: %d metered, traced sim calls from one plan: %.0f calls/s "
      "(%.1f us per call); target >= 100000/s: %s\n",
      kAllocator, calls, rate, 1e6 / rate, rate >= 100000 ? "met" : "MISSED");
  print_cpu_by_thread(cpu_before, cpu_after, calls);
}

// The same loop as calls_per_second, as a background run on the scheduler: each call
// yields the plan's coroutine and resumes it when the sim answers on the event loop.
void scheduled_calls_per_second(int calls) {
  auto runtime = make_runtime();
  const auto by_thread_before = cpu_seconds_by_thread();
  const auto start = Clock::now();
  const double cpu_before = cpu_seconds();
  RunResult result =
      runtime->start_script(kCallLoop, "bench.lua", call_loop_options(calls))->wait();
  const double wall = seconds_since(start);
  const double cpu = cpu_seconds() - cpu_before;
  const auto by_thread_after = cpu_seconds_by_thread();
  if (!result.ok()) die("scheduled calls", *result.error);
  std::printf(
      "agents_bench [%s malloc] scheduled calls/s: %d calls from one background plan: "
      "%.0f calls/s (%.1f us of CPU per call, every thread)\n",
      kAllocator, calls, calls / wall, cpu * 1e6 / calls);
  print_cpu_by_thread(by_thread_before, by_thread_after, calls);
}

// What bounds the fan-out on this machine, as a line after it: "  bound: 2650 ms of CPU
// over 2 cores is a floor of 1325 ms (the wall was 1.08x it); ...". All agents start at
// once, so the wall time cannot be shorter than the CPU used spread over every core, nor
// than what the busiest stage running on one thread (a writer, the tab closer) used
// alone. The line says how close the wall came to that floor and what the target would
// need: CPU per agent on these cores, or cores at this CPU per agent.
void print_fan_out_bound(const CpuByThread& before, const CpuByThread& after, double cpu,
                         double wall, int agents, double target) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double floor = cpu / cores;
  std::string busiest = "none";
  double busiest_seconds = 0;
  for (const auto& [name, now] : after) {
    const double used = used_between(before, name, now);
    if (now.threads == 1 && used > busiest_seconds) {
      busiest = name;
      busiest_seconds = used;
    }
  }
  std::printf(
      "  bound: %.0f ms of CPU over %u cores is a floor of %.0f ms (the wall was %.2fx it); the "
      "target leaves %.0f us of CPU per agent here (this run used %.0f), or needs %.0f cores at "
      "this cost; the busiest one-thread stage, %s, used %.0f ms%s\n",
      cpu * 1000, cores, floor * 1000, wall / floor, target * cores * 1e6 / agents,
      cpu * 1e6 / agents, std::ceil(cpu / target), busiest.c_str(), busiest_seconds * 1000,
      busiest_seconds > target
          ? ", more than the target: at this cost no number of cores would meet it"
          : "");
}

void fan_out(int agents, int calls_each) {
  auto runtime = make_runtime(50);
  const std::string plan =
      "for i = 1, tonumber(agent.args[1]) do\n"
      "  model.chat{messages={{role='user', content='hi'}}}\n"
      "end\n"
      "return 'done'\n";
  std::vector<std::shared_ptr<RunHandle>> runs;
  runs.reserve(static_cast<std::size_t>(agents));
  const auto by_thread_before = cpu_seconds_by_thread();
  const auto start = Clock::now();
  const double cpu_before = cpu_seconds();
  RunOptions options;
  options.args = {std::to_string(calls_each)};
  for (int i = 0; i < agents; ++i) {
    runs.push_back(runtime->start_script(plan, "agent.lua", options));
  }
  int failed = 0;
  for (auto& run : runs) failed += run->wait().ok() ? 0 : 1;
  const double wall = seconds_since(start);
  const double cpu = cpu_seconds() - cpu_before;
  const auto by_thread_after = cpu_seconds_by_thread();
  const double ideal = 0.05 * calls_each;
  std::printf(
      "agents_bench [%s malloc] fan-out: %d agents x %d sim calls of 50 ms on %u scheduler "
      "threads: "
      "%.0f ms wall (ideal %.0f ms, %.2fx), %.0f us of CPU per agent, %d failed; target "
      "within 1.5x: %s\n",
      kAllocator, agents, calls_each, std::max(1u, std::thread::hardware_concurrency()),
      wall * 1000, ideal * 1000, wall / ideal, cpu * 1e6 / agents, failed,
      wall <= 1.5 * ideal ? "met" : "MISSED");
  print_cpu_by_thread(by_thread_before, by_thread_after, agents, "agent");
  print_fan_out_bound(by_thread_before, by_thread_after, cpu, wall, agents, 1.5 * ideal);
}

// What an agent costs to start and finish, with no model call: its run record, sandbox,
// trace and settlement, through the scheduler. Once with a one-line plan, once with a plan
// that requires the whole plan library (about 460 lines of Lua to load).
void start_and_finish(int agents) {
  constexpr const char* kLibraryPlan =
      "local _ = require('perdiem.react'), require('perdiem.plan_execute'),\n"
      "  require('perdiem.map_reduce'), require('perdiem.refine'), require('perdiem.cascade')\n"
      "return 1\n";
  for (const auto& [plan, what] : {std::pair{"return 1", "return at once"},
                                   std::pair{kLibraryPlan, "require the plan library"}}) {
    auto runtime = make_runtime();
    std::vector<std::shared_ptr<RunHandle>> runs;
    runs.reserve(static_cast<std::size_t>(agents));
    const auto start = Clock::now();
    const double cpu_before = cpu_seconds();
    for (int i = 0; i < agents; ++i) runs.push_back(runtime->start_script(plan, "a.lua", {}));
    const double started = seconds_since(start);
    int failed = 0;
    for (auto& run : runs) failed += run->wait().ok() ? 0 : 1;
    const double wall = seconds_since(start);
    const double cpu = cpu_seconds() - cpu_before;
    std::printf(
        "agents_bench [%s malloc] start: %d agents that %s: started in %.0f ms, all finished in "
        "%.0f ms (%.0f us of CPU per agent), %d failed\n",
        kAllocator, agents, what, started * 1000, wall * 1000, cpu * 1e6 / agents, failed);
  }
}

void idle_memory(int agents) {
  auto runtime = make_runtime();
  const std::string plan = "sleep(3)\nreturn 'done'\n";
  std::vector<std::shared_ptr<RunHandle>> runs;
  runs.reserve(static_cast<std::size_t>(agents));
  // Warm the runtime (first-run allocations are not per agent).
  runtime->run_script("return 1", "warm.lua", {});
  const std::size_t before = resident_bytes();
  for (int i = 0; i < agents; ++i) runs.push_back(runtime->start_script(plan, "idle.lua", {}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // all started and asleep
  const std::size_t during = resident_bytes();
  for (auto& run : runs) run->cancel();
  for (auto& run : runs) run->wait();
  const double per_agent = static_cast<double>(during - before) / agents / 1024.0;
  std::printf(
      "agents_bench [%s malloc] idle: %d sleeping agents: %.1f KiB resident each; target <= 64 "
      "KiB: "
      "%s\n",
      kAllocator, agents, per_agent, per_agent <= 64 ? "met" : "MISSED");
}

// The measures `only` may name, in the order main runs them.
constexpr std::array<std::string_view, 5> kMeasures = {"idle", "calls", "scheduled", "start",
                                                       "fan-out"};

void print_usage() {
  std::fprintf(stderr,
               "usage: agents_bench [agents=10000] [calls=20000] [calls_per_agent=5] [only=");
  for (std::size_t i = 0; i < kMeasures.size(); ++i) {
    std::fprintf(stderr, "%s%.*s", i > 0 ? "|" : "", static_cast<int>(kMeasures[i].size()),
                 kMeasures[i].data());
  }
  std::fprintf(stderr, "]\n");
}

// A count from the command line, or the usage and exit: atoi read "--help" as 0 agents,
// and a fan-out of none reported its target met.
int count_argument(int argc, char** argv, int index, int fallback) {
  if (argc <= index) return fallback;
  const std::string_view text = argv[index];
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 1) {
    std::fprintf(stderr, "agents_bench: \"%s\" is not a positive count\n", argv[index]);
    print_usage();
    std::exit(2);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  const int agents = count_argument(argc, argv, 1, 10000);
  const int calls = count_argument(argc, argv, 2, 20000);
  const int calls_each = count_argument(argc, argv, 3, 5);
  const std::string only = argc > 4 ? argv[4] : "";
  if (!only.empty() && std::find(kMeasures.begin(), kMeasures.end(), only) == kMeasures.end()) {
    std::fprintf(stderr, "agents_bench: no measure named \"%s\"\n", only.c_str());
    print_usage();
    return 2;
  }
  std::error_code ignored;
  if (std::filesystem::is_directory("/dev/shm", ignored)) ::setenv("TMPDIR", "/dev/shm", 1);
  const auto wanted = [&](const char* measure) { return only.empty() || only == measure; };
  // Idle first: memory freed by an earlier measure and kept by the allocator for reuse
  // would hide what the sleeping agents take.
  if (wanted("idle")) idle_memory(agents);
  if (wanted("calls")) calls_per_second(calls);
  if (wanted("scheduled")) scheduled_calls_per_second(calls);
  if (wanted("start")) start_and_finish(agents);
  if (wanted("fan-out")) fan_out(agents, calls_each);
  return 0;
}
