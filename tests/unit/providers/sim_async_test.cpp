// The sim's simulated latency, on the blocking path (it sleeps) and through start_chat
// (a loop timer, no thread waits); Provider::start_chat's default (the blocking pool);
// and the event loop's settles: post_after_or_cancel, expect/Handoff, at shutdown too.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "async_fixture.hpp"
#include "runtime/http/event_loop.hpp"
#include "runtime/providers/provider_config.hpp"
#include "runtime/providers/sim_provider.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using namespace std::chrono_literals;
using perdiem::providers::testing::Ends;
using perdiem::providers::testing::start_marked;
using perdiem::providers::testing::user_says;
using Clock = std::chrono::steady_clock;

namespace {

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// A provider with nothing but chat(): a host app's model. Blocks until released when
// `hold` is set, and records the threads it ran on.
class ChatOnly final : public Provider {
 public:
  const std::string& name() const override { return name_; }
  Result<ChatResponse> chat(const ChatRequest& request) override {
    {
      std::unique_lock lock(mutex_);
      threads_.insert(std::this_thread::get_id());
      ++running_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !hold_; });
      --running_;
    }
    ChatResponse response;
    response.provider = name_;
    response.model = request.model;
    response.content = "echo: " + request.messages.back().content;
    return response;
  }
  void hold() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      hold_ = false;
    }
    cv_.notify_all();
  }
  bool wait_running(int n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 10s, [&] { return running_ >= n; });
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  const std::string name_ = "host";
  std::mutex mutex_;
  std::condition_variable cv_;
  bool hold_ = false;
  int running_ = 0;
  std::set<std::thread::id> threads_;
};

}  // namespace

TEST_CASE("sim_delay: latency plus a jitter drawn from the seed, the same on every run") {
  const SimOptions options{50ms, 20ms};
  std::vector<std::chrono::milliseconds> first, again, other_seed;
  for (std::uint64_t n = 0; n < 200; ++n) {
    first.push_back(sim_delay(options, 7, n));
    again.push_back(sim_delay(options, 7, n));
    other_seed.push_back(sim_delay(options, 8, n));
  }
  CHECK(first == again);
  CHECK(first != other_seed);
  std::set<long> distinct;
  for (auto d : first) {
    CHECK(d >= 50ms);
    CHECK(d <= 70ms);
    distinct.insert(static_cast<long>(d.count()));
  }
  CHECK(distinct.size() > 5);  // spread over the range, not one value
  CHECK(sim_delay(SimOptions{50ms, 0ms}, 7, 3) == 50ms);
  CHECK(sim_delay(SimOptions{}, 7, 3) == 0ms);
}

TEST_CASE("sim: the blocking path sleeps the latency; start_chat answers after it, on the loop") {
  auto sim = make_sim_provider(1, SimOptions{60ms, 0ms});
  const ChatRequest request = user_says("reply with exactly: pong");

  auto start = Clock::now();
  auto blocking = sim->chat(request);
  CHECK(since(start) >= 60ms);
  REQUIRE(blocking.ok());
  CHECK(blocking.value().content == "pong");

  ChatCall streamed_call;
  std::string streamed;
  streamed_call.on_text = [&](std::string_view piece) { streamed += piece; };
  start = Clock::now();
  auto via_call = sim->chat_call(request, streamed_call);
  CHECK(since(start) >= 60ms);
  REQUIRE(via_call.ok());
  CHECK(streamed == "pong");
  REQUIRE(streamed_call.ttft_us.has_value());
  CHECK(*streamed_call.ttft_us >= 60'000);

  http::EventLoop loop;
  Ends ends(2, loop);
  ChatCall whole_call;
  ChatCall async_call;
  std::string async_text;
  bool text_on_loop = true;
  async_call.on_text = [&](std::string_view piece) {
    async_text += piece;
    text_on_loop = text_on_loop && loop.in_loop_thread();
  };
  start = Clock::now();
  start_marked(*sim, request, whole_call, loop, ends.slot(0));
  start_marked(*sim, request, async_call, loop, ends.slot(1));
  const auto returned = Clock::now();
  REQUIRE(ends.wait_all(10s));
  ends.check_once_on_loop();
  CHECK(returned < ends.time(0));  // start_chat returned before the answer, not after it
  CHECK(ends.time(0) - start >= 60ms);
  CHECK(ends.time(1) - start >= 60ms);
  REQUIRE(ends[0].ok());
  CHECK(ends[0].value().content == "pong");
  REQUIRE(ends[1].ok());
  CHECK(async_text == "pong");
  CHECK(text_on_loop);
  REQUIRE(async_call.ttft_us.has_value());
  CHECK(*async_call.ttft_us >= 60'000);
}

TEST_CASE("sim: 10,000 calls in flight with 50 ms latency all end, on one loop, no thread each") {
  constexpr std::size_t kCalls = 10'000;
  auto sim = make_sim_provider(3, SimOptions{50ms, 10ms});
  http::EventLoop loop;
  Ends ends(kCalls, loop);
  std::vector<ChatCall> calls(kCalls);
  const ChatRequest request = user_says("hello");
  const auto start = Clock::now();
  for (std::size_t i = 0; i < kCalls; ++i) sim->start_chat(request, calls[i], loop, ends.slot(i));
  REQUIRE(ends.wait_all(30s));
  const auto wall = since(start);
  ends.check_once_on_loop();
  for (std::size_t i = 0; i < kCalls; ++i) {
    CHECK(ends.time(i) - start >= 50ms);
    REQUIRE(ends[i].ok());
  }
  MESSAGE("10,000 sim calls, 50-60 ms each, one loop: " << wall.count() << " ms wall");
  // Serially they would take 500 s; a loaded 2-core machine still does them in seconds.
  CHECK(wall < 5s);
}

TEST_CASE("sim: start_chat from the loop thread, and a stop from on_text") {
  auto sim = make_sim_provider(1, SimOptions{20ms, 0ms});
  http::EventLoop loop;
  Ends ends(1, loop);
  ChatCall call;
  std::string seen;
  call.on_text = [&](std::string_view piece) {
    seen += piece;
    call.stop_requested = true;
  };
  const ChatRequest request = user_says("reply with exactly: one two three");
  loop.post([&] { start_marked(*sim, request, call, loop, ends.slot(0)); });
  REQUIRE(ends.wait_all(10s));
  ends.check_once_on_loop();
  REQUIRE_FALSE(ends[0].ok());
  CHECK(ends[0].error().kind == ErrorKind::cancelled);
  CHECK(seen == "one ");
  CHECK(call.partial_output);
  CHECK(call.partial_text == "one ");
}

TEST_CASE("sim: a loop shut down with calls pending ends each once with cancelled") {
  auto sim = make_sim_provider(1, SimOptions{1h, 0ms});
  constexpr std::size_t kCalls = 50;
  std::vector<ChatCall> calls(kCalls);
  std::atomic<int> ended{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> on_loop{0};
  {
    http::EventLoop loop;
    for (std::size_t i = 0; i < kCalls; ++i) {
      sim->start_chat(user_says("hi"), calls[i], loop, [&](Result<ChatResponse> result) {
        ++ended;
        if (loop.in_loop_thread()) ++on_loop;
        if (!result.ok() && result.error().kind == ErrorKind::cancelled) ++cancelled;
      });
    }
  }
  CHECK(ended == static_cast<int>(kCalls));
  CHECK(cancelled == static_cast<int>(kCalls));
  CHECK(on_loop == static_cast<int>(kCalls));
}

TEST_CASE("sim latency from the provider settings and PERDIEM_SIM_LATENCY_MS") {
  auto env_with = [](std::map<std::string, std::string> vars) -> GetEnv {
    return [vars](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  };
  ProviderSettings settings;
  settings.provider = "sim";
  auto from_env = resolve_provider(
      settings, env_with({{"PERDIEM_SIM_LATENCY_MS", "40"}, {"PERDIEM_SIM_JITTER_MS", "5"}}));
  REQUIRE(from_env.ok());
  CHECK(from_env.value().sim.latency == 40ms);
  CHECK(from_env.value().sim.jitter == 5ms);

  settings.sim_latency_ms = 70;
  auto from_settings = resolve_provider(settings, env_with({{"PERDIEM_SIM_LATENCY_MS", "40"}}));
  REQUIRE(from_settings.ok());
  CHECK(from_settings.value().sim.latency == 70ms);

  auto sim = make_provider(std::move(from_settings).value(), nullptr);
  const auto start = Clock::now();
  REQUIRE(sim->chat(user_says("hi")).ok());
  CHECK(since(start) >= 70ms);

  settings.sim_latency_ms = 0;
  for (const char* bad : {"fifty", "50ms", "-1", "600001"}) {
    CAPTURE(bad);
    auto refused = resolve_provider(settings, env_with({{"PERDIEM_SIM_LATENCY_MS", bad}}));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::config);
    CHECK(refused.error().message.find("PERDIEM_SIM_LATENCY_MS") != std::string::npos);
  }
  settings.sim_jitter_ms = -3;
  auto negative = resolve_provider(settings, env_with({}));
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.error().message.find("sim_jitter_ms") != std::string::npos);
}

TEST_CASE("the default start_chat runs chat() on the blocking pool and ends on the loop") {
  ChatOnly host;
  http::EventLoop loop;
  Ends ends(2, loop);
  ChatCall whole_call;
  ChatCall streamed_call;
  std::string streamed;
  bool text_on_loop = true;
  streamed_call.on_text = [&](std::string_view piece) {
    streamed += piece;
    text_on_loop = text_on_loop && loop.in_loop_thread();
  };
  start_marked(host, user_says("one"), whole_call, loop, ends.slot(0));
  loop.post([&] { start_marked(host, user_says("two"), streamed_call, loop, ends.slot(1)); });
  REQUIRE(ends.wait_all(10s));
  ends.check_once_on_loop();
  REQUIRE(ends[0].ok());
  CHECK(ends[0].value().content == "echo: one");
  REQUIRE(ends[1].ok());
  CHECK(streamed == "echo: two");
  CHECK(text_on_loop);
  for (std::thread::id id : host.threads()) CHECK(id != std::this_thread::get_id());
}

TEST_CASE("the blocking pool runs every held call at once") {
  ChatOnly host;
  host.hold();
  http::EventLoop loop;
  constexpr std::size_t kCalls = 20;
  Ends ends(kCalls, loop);
  std::vector<ChatCall> calls(kCalls);
  for (std::size_t i = 0; i < kCalls; ++i) {
    host.start_chat(user_says(std::to_string(i)), calls[i], loop, ends.slot(i));
  }
  // A slow host model is never throttled: each held call has a thread of its own.
  REQUIRE(host.wait_running(static_cast<int>(kCalls)));
  CHECK(ends.done() == 0);
  host.release();
  REQUIRE(ends.wait_all(10s));
  ends.check_once_on_loop();
  for (std::size_t i = 0; i < kCalls; ++i) {
    REQUIRE(ends[i].ok());
    CHECK(ends[i].value().content == "echo: " + std::to_string(i));
  }
}

TEST_CASE("the default start_chat ends with cancelled when the loop shuts down first") {
  // Static: the worker may still be inside host.chat() when the test ends.
  static ChatOnly host;
  host.hold();
  ChatCall call;
  std::atomic<int> ended{0};
  std::optional<Error> error;
  {
    http::EventLoop loop;
    host.start_chat(user_says("late"), call, loop, [&](Result<ChatResponse> result) {
      ++ended;
      if (!result.ok()) error = result.error();
    });
    REQUIRE(host.wait_running(1));
  }
  CHECK(ended == 1);
  REQUIRE(error.has_value());
  CHECK(error->kind == ErrorKind::cancelled);
  host.release();  // the worker's late answer goes nowhere
  std::this_thread::sleep_for(50ms);
  CHECK(ended == 1);
}

TEST_CASE("settles run once: when due, or cancelled at shutdown, even if posted then") {
  std::atomic<int> due{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> plain{0};
  std::atomic<int> off_loop{0};
  http::Handoff late;
  {
    http::EventLoop loop;
    auto count = [&](bool was_cancelled) {
      if (!loop.in_loop_thread()) ++off_loop;
      ++(was_cancelled ? cancelled : due);
    };
    std::promise<void> ran;
    loop.post_after_or_cancel(1ms, [&, count](bool c) {
      count(c);
      ran.set_value();
    });
    REQUIRE(ran.get_future().wait_for(10s) == std::future_status::ready);
    loop.post_after_or_cancel(1h, [&, count](bool c) {
      count(c);
      // Posted during the shutdown: still settled, as cancelled.
      loop.post_after_or_cancel(0ms, count);
    });
    loop.post_after(1h, [&] { ++plain; });
    http::Handoff handoff = loop.expect(count);
    late = loop.expect(count);
    std::promise<void> completed;
    http::Handoff marker = loop.expect([&, count](bool c) {
      count(c);
      completed.set_value();
    });
    handoff.complete();
    marker.complete();
    marker.complete();  // a second complete does nothing
    REQUIRE(completed.get_future().wait_for(10s) == std::future_status::ready);
    CHECK(due == 3);
  }
  late.complete();  // after the loop is gone: nothing
  CHECK(due == 3);
  CHECK(cancelled == 3);  // the 1h settle, the one it posted, the pending expect
  CHECK(plain == 0);
  CHECK(off_loop == 0);
}

TEST_CASE("10,000 timers due at the same time all run, in posting order, in well under a second") {
  constexpr int kTimers = 10'000;
  http::EventLoop loop;
  std::vector<int> order;
  order.reserve(kTimers);
  std::promise<void> all;
  const auto start = Clock::now();
  for (int i = 0; i < kTimers; ++i) {
    loop.post_after(50ms, [&, i] {
      order.push_back(i);
      if (order.size() == kTimers) all.set_value();
    });
  }
  REQUIRE(all.get_future().wait_for(30s) == std::future_status::ready);
  const auto wall = since(start);
  MESSAGE("10,000 timers of 50 ms: " << wall.count() << " ms wall");
  CHECK(wall >= 50ms);
  CHECK(wall < 1s);
  bool in_order = true;
  for (int i = 0; i < kTimers; ++i) in_order = in_order && order[static_cast<std::size_t>(i)] == i;
  CHECK(in_order);
}
