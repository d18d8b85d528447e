// provider_bench: what a model call costs perdiem itself, and how many calls one event
// loop carries at once.
//
//  (a) CPU per non-streamed call spent in perdiem: router plan and walk, the OpenAI
//      adapter's encode and decode, HTTP on an EventLoop through make_loop_transport,
//      against a loopback server that answers a small chat completion at once. The
//      server runs in a child process, so getrusage(RUSAGE_SELF) counts the client only.
//  (b) Calls in flight on one loop: N requests submitted at once to one EventLoop
//      against the same server holding each ~200 ms; the server counts the peak it held
//      at once. Reports that peak, the wall time against the ideal (one hold), and the
//      loop thread's CPU.
//  (c) Provider::start_chat, the call the agent scheduler makes: the OpenAI adapter's
//      calls chained on the loop thread (CPU per call, no thread waiting), the same N
//      calls in flight through start_chat, and 10,000 sim calls with 50 ms latency on
//      one loop (wall time against the ideal 50 ms; no thread sleeps).
//
// Usage: provider_bench [sequential_calls] [calls_per_concurrent_caller] [in_flight...]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "runtime/http/curl_transport.hpp"
#include "runtime/http/event_loop.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/openai_provider.hpp"
#include "runtime/providers/sim_provider.hpp"
#include "runtime/router/router.hpp"

using namespace perdiem;
using Clock = std::chrono::steady_clock;

namespace {

// A small chat completion, as OpenAI documents it.
constexpr const char* kAnswer =
    R"({"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,)"
    R"("model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant",)"
    R"("content":"Hello! How can I help you today?"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":19,"completion_tokens":9,"total_tokens":28}})";

// ---------------------------------------------------------------------------------------
// The loopback server: one epoll thread in a child process. Any path answers kAnswer;
// "/hold/<ms>/..." answers after <ms>; "/stats" reports the peak number of requests held
// at once since "/reset". HTTP/1.1 keep-alive, one request at a time per connection.

struct Conn {
  std::uint64_t id = 0;
  std::string in;
  std::string out;
  bool held = false;
  bool close_after = false;
};

struct Held {
  Clock::time_point due;
  int fd;
  std::uint64_t id;
};

class HoldServer {
 public:
  explicit HoldServer(int listen_fd) : listen_fd_(listen_fd) {}

  [[noreturn]] void run() {
    epoll_ = epoll_create1(0);
    watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
    std::vector<epoll_event> events(1024);
    for (;;) {
      int timeout = -1;
      if (!held_.empty()) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(held_.front().due - Clock::now());
        timeout = static_cast<int>(std::max<long long>(0, left.count()));
      }
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout);
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
        if (fd == listen_fd_) {
          accept_all();
          continue;
        }
        if (what & EPOLLOUT) flush(fd);
        if (what & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_from(fd);
      }
      const auto now = Clock::now();
      while (!held_.empty() && held_.front().due <= now) {
        const Held h = held_.front();
        held_.pop_front();
        auto it = conns_.find(h.fd);
        if (it == conns_.end() || it->second.id != h.id) continue;  // closed meanwhile
        it->second.held = false;
        --in_flight_;
        respond(h.fd, kAnswer);
      }
    }
  }

 private:
  void watch(int fd, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_, op, fd, &ev);
  }

  void accept_all() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Conn& conn = conns_[fd];
      conn = Conn{};
      conn.id = ++next_id_;
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  void close_conn(int fd) {
    auto it = conns_.find(fd);
    if (it != conns_.end() && it->second.held) --in_flight_;
    conns_.erase(fd);
    close(fd);
  }

  void read_from(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    char buffer[16384];
    for (;;) {
      const ssize_t got = read(fd, buffer, sizeof buffer);
      if (got > 0) {
        it->second.in.append(buffer, static_cast<std::size_t>(got));
        continue;
      }
      if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        close_conn(fd);
        return;
      }
      break;
    }
    handle(fd);
  }

  static std::size_t content_length(std::string_view head) {
    for (std::size_t at = 0; at < head.size();) {
      const std::size_t end = head.find("\r\n", at);
      const std::string_view line = head.substr(at, end == std::string_view::npos ? end : end - at);
      if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
        return std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10);
      }
      if (end == std::string_view::npos) break;
      at = end + 2;
    }
    return 0;
  }

  // Takes one complete request from the connection's buffer, if there is one.
  void handle(int fd) {
    Conn& conn = conns_[fd];
    if (conn.held) return;
    const std::size_t head_end = conn.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    const std::string_view head(conn.in.data(), head_end);
    const std::size_t total = head_end + 4 + content_length(head);
    if (conn.in.size() < total) return;
    const std::size_t sp1 = head.find(' ');
    const std::size_t sp2 = head.find(' ', sp1 + 1);
    const std::string path(head.substr(sp1 + 1, sp2 - sp1 - 1));
    conn.close_after = head.find("onnection: close") != std::string_view::npos;
    conn.in.erase(0, total);
    if (path == "/stats") {
      respond(fd, "{\"peak\":" + std::to_string(peak_) +
                      ",\"in_flight\":" + std::to_string(in_flight_) + "}");
      return;
    }
    if (path == "/reset") {
      peak_ = in_flight_;
      respond(fd, "{}");
      return;
    }
    long hold_ms = 0;
    if (path.starts_with("/hold/")) hold_ms = std::strtol(path.c_str() + 6, nullptr, 10);
    if (hold_ms <= 0) {
      respond(fd, kAnswer);
      return;
    }
    conn.held = true;
    ++in_flight_;
    peak_ = std::max(peak_, in_flight_);
    held_.push_back(Held{Clock::now() + std::chrono::milliseconds(hold_ms), fd, conn.id});
  }

  void respond(int fd, const std::string& body) {
    Conn& conn = conns_[fd];
    conn.out += "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
    flush(fd);
  }

  void flush(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& conn = it->second;
    while (!conn.out.empty()) {
      const ssize_t sent = write(fd, conn.out.data(), conn.out.size());
      if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          watch(fd, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
          return;
        }
        close_conn(fd);
        return;
      }
      conn.out.erase(0, static_cast<std::size_t>(sent));
    }
    watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    if (conn.close_after) {
      close_conn(fd);
      return;
    }
    handle(fd);  // a request that arrived behind this one
  }

  int listen_fd_;
  int epoll_ = -1;
  std::unordered_map<int, Conn> conns_;
  std::deque<Held> held_;  // all holds are equal in a run, so arrival order is due order
  std::uint64_t next_id_ = 0;
  long in_flight_ = 0;
  long peak_ = 0;
};

// Starts the server in a child process (before this process has any thread) and
// returns its port.
int start_server(pid_t& child) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 4096) != 0) {
    std::perror("provider_bench: listen");
    std::exit(1);
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  child = fork();
  if (child < 0) {
    std::perror("provider_bench: fork");
    std::exit(1);
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    HoldServer(fd).run();
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// ---------------------------------------------------------------------------------------
// Measuring.

struct Cpu {
  double user_us = 0;
  double system_us = 0;
  double total() const { return user_us + system_us; }
};

Cpu process_cpu() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return {us(usage.ru_utime), us(usage.ru_stime)};
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// The loop thread's CPU time so far, read on the loop thread.
double loop_cpu_us(http::EventLoop& loop) {
  auto promise = std::make_shared<std::promise<double>>();
  auto future = promise->get_future();
  loop.post([promise] { promise->set_value(thread_cpu_us()); });
  return future.get();
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

[[noreturn]] void die(const char* what, const Error& error) {
  std::fprintf(stderr, "provider_bench: %s: %s\n", what, error.message.c_str());
  std::exit(1);
}

// Keeps the connection to the loopback server alive between calls, as it would be to a
// remote provider (the transport closes loopback connections by default).
class KeepAlive final : public http::Transport {
 public:
  explicit KeepAlive(std::shared_ptr<http::Transport> inner) : inner_(std::move(inner)) {}
  Result<http::Response> send(const http::Request& request) override {
    http::Request kept = request;
    kept.reuse_connection = true;
    return inner_->send(kept);
  }

 private:
  std::shared_ptr<http::Transport> inner_;
};

// A transport that answers kAnswer without any I/O: what perdiem costs besides HTTP.
class Canned final : public http::Transport {
 public:
  Result<http::Response> send(const http::Request&) override {
    http::Response response;
    response.status = 200;
    response.headers = {{"content-type", "application/json"}};
    response.body = kAnswer;
    return response;
  }
};

std::unique_ptr<providers::Provider> openai(const std::string& base_url,
                                            std::shared_ptr<http::Transport> transport,
                                            std::optional<bool> reuse_connection = {}) {
  providers::OpenAiProviderConfig config;
  config.reuse_connection = reuse_connection;
  config.name = "bench";
  config.base_url = base_url;
  config.api_key = base::SecureBuffer::from_string("sk-bench-00000000000000000000000000000000");
  config.default_model = "gpt-4o-mini";
  return providers::make_openai_provider(std::move(config), std::move(transport));
}

providers::ChatRequest question() {
  providers::ChatRequest request;
  request.model = "gpt-4o-mini";
  request.messages = {{"system", "You are a helpful assistant."}, {"user", "Hello!"}};
  request.max_tokens = 64;
  return request;
}

// One model call as the runtime makes it: plan the route, walk it, one attempt.
bool routed_call(providers::Provider& provider, const providers::ChatRequest& request,
                 router::HealthBook& health, base::Random& random) {
  router::Candidate candidate;
  candidate.provider = "bench";
  candidate.model = request.model;
  candidate.price = {150'000'000, 600'000'000, 0};
  router::RouteRequest route;
  route.input_tokens = 64;
  route.max_output_tokens = request.max_tokens.value_or(1024);
  const base::Clock& clock = base::system_clock();
  router::Plan plan = router::plan_route({&candidate, 1}, route, health, {}, clock.now_unix_ms());
  router::AttemptFn attempt = [&](const router::Candidate&, int) -> router::AttemptResult {
    return provider.chat(request);
  };
  router::RouterEnv env{health, clock, random, [](std::chrono::milliseconds) {},
                        router::RetryOptions{}};
  router::RouteResult result = router::route_call(plan, attempt, env);
  return result.response.ok();
}

struct CpuRun {
  double us_per_call = 0;
  double user_us_per_call = 0;  // in our code and libraries; the rest is the kernel's
  double loop_us_per_call = 0;  // the loop thread's share, when there is a loop
  double calls_per_s = 0;
  std::size_t failures = 0;
};

CpuRun run_calls(providers::Provider& provider, http::EventLoop* loop, int callers,
                 std::size_t calls_each) {
  router::HealthBook health;
  const auto request = question();
  // Warm up: connections, allocator, health book.
  {
    base::SeededRandom random(1);
    for (int i = 0; i < 50; ++i) (void)routed_call(provider, request, health, random);
  }
  std::atomic<std::size_t> failures{0};
  const double loop_before = loop ? loop_cpu_us(*loop) : 0;
  const Cpu cpu_before = process_cpu();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      base::SeededRandom random(static_cast<std::uint64_t>(c) + 7);
      for (std::size_t i = 0; i < calls_each; ++i) {
        if (!routed_call(provider, request, health, random)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const Cpu cpu_after = process_cpu();
  const double cpu = cpu_after.total() - cpu_before.total();
  const double user = cpu_after.user_us - cpu_before.user_us;
  const double loop_cpu = loop ? loop_cpu_us(*loop) - loop_before : 0;
  const double calls = static_cast<double>(calls_each) * callers;
  return {cpu / calls, user / calls, loop_cpu / calls, calls / seconds, failures.load()};
}

// The path the agent scheduler will take: everything on the loop thread, no caller
// waiting. Each call plans its route, walks it (RouteSession), encodes, submits; its
// completion decodes, records the attempt and starts the next call.
class LoopChain {
 public:
  LoopChain(http::EventLoop& loop, std::string url, std::size_t calls)
      : loop_(loop), url_(std::move(url)), left_(calls), request_(question()) {
    key_ = base::SecureBuffer::from_string("sk-bench-00000000000000000000000000000000");
  }

  std::size_t run() {
    auto finished = done_.get_future();
    loop_.post([this] { step(); });
    finished.wait();
    return failures_;
  }

 private:
  void step() {
    if (left_-- == 0) {
      done_.set_value();
      return;
    }
    router::Candidate candidate;
    candidate.provider = "bench";
    candidate.model = request_.model;
    candidate.price = {150'000'000, 600'000'000, 0};
    router::RouteRequest route;
    route.input_tokens = 64;
    route.max_output_tokens = request_.max_tokens.value_or(1024);
    const base::Clock& clock = base::system_clock();
    auto plan = std::make_shared<router::Plan>(
        router::plan_route({&candidate, 1}, route, health_, {}, clock.now_unix_ms()));
    auto session =
        std::make_shared<router::RouteSession>(*plan, health_, random_, router::RetryOptions{});
    if (!session->next(clock.now_unix_ms())) {
      ++failures_;
      return step();
    }
    http::Request http_request;
    http_request.url = url_;
    http_request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    http_request.bearer_token = &key_;
    http_request.body = providers::encode_chat_request(request_);
    http_request.reuse_connection = true;
    loop_.submit(std::move(http_request), [this, plan, session](http::Outcome outcome) {
      const base::Clock& now = base::system_clock();
      Result<providers::ChatResponse> decoded =
          outcome.result.ok()
              ? providers::decode_chat_response(outcome.result.value().status,
                                                outcome.result.value().body, "bench")
              : Result<providers::ChatResponse>(outcome.result.error());
      session->record(router::AttemptResult(std::move(decoded)), 0, now.now_unix_ms());
      (void)session->next(now.now_unix_ms());
      if (!session->finish().response.ok()) ++failures_;
      step();
    });
  }

  http::EventLoop& loop_;
  std::string url_;
  std::size_t left_;
  providers::ChatRequest request_;
  base::SecureBuffer key_;
  router::HealthBook health_;
  base::SeededRandom random_{3};
  std::promise<void> done_;
  std::size_t failures_ = 0;
};

CpuRun run_on_loop(http::EventLoop& loop, const std::string& url, std::size_t calls) {
  (void)LoopChain(loop, url, 50).run();  // warm up
  const Cpu cpu_before = process_cpu();
  const double loop_before = loop_cpu_us(loop);
  const auto start = Clock::now();
  const std::size_t failures = LoopChain(loop, url, calls).run();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double loop_cpu = loop_cpu_us(loop) - loop_before;
  const Cpu cpu_after = process_cpu();
  const double n = static_cast<double>(calls);
  return {(cpu_after.total() - cpu_before.total()) / n,
          (cpu_after.user_us - cpu_before.user_us) / n, loop_cpu / n, n / seconds, failures};
}

long server_stat(const std::string& origin, const char* path, const char* field);

// Calls chained through Provider::start_chat from the loop thread, each done starting the
// next: LoopChain's path through the OpenAI adapter (without the router).
class StartChatChain {
 public:
  StartChatChain(http::EventLoop& loop, providers::Provider& provider, std::size_t calls)
      : loop_(loop), provider_(provider), left_(calls), request_(question()) {}

  std::size_t run() {
    auto finished = done_.get_future();
    loop_.post([this] { step(); });
    finished.wait();
    return failures_;
  }

 private:
  void step() {
    if (left_-- == 0) {
      done_.set_value();
      return;
    }
    call_ = providers::ChatCall{};
    provider_.start_chat(request_, call_, loop_, [this](Result<providers::ChatResponse> answer) {
      if (!answer.ok()) ++failures_;
      step();
    });
  }

  http::EventLoop& loop_;
  providers::Provider& provider_;
  std::size_t left_;
  providers::ChatRequest request_;
  providers::ChatCall call_;
  std::promise<void> done_;
  std::size_t failures_ = 0;
};

CpuRun run_start_chat_chain(http::EventLoop& loop, providers::Provider& provider,
                            std::size_t calls) {
  (void)StartChatChain(loop, provider, 50).run();  // warm up
  const Cpu cpu_before = process_cpu();
  const double loop_before = loop_cpu_us(loop);
  const auto start = Clock::now();
  const std::size_t failures = StartChatChain(loop, provider, calls).run();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double loop_cpu = loop_cpu_us(loop) - loop_before;
  const Cpu cpu_after = process_cpu();
  const double n = static_cast<double>(calls);
  return {(cpu_after.total() - cpu_before.total()) / n,
          (cpu_after.user_us - cpu_before.user_us) / n, loop_cpu / n, n / seconds, failures};
}

// `calls` start_chat calls at once on one loop; returns the wall time in ms and fills
// the failures and the loop thread's CPU in ms.
double start_chat_burst(http::EventLoop& loop, providers::Provider& provider, std::size_t calls,
                        std::size_t& failures, double& loop_ms) {
  std::vector<providers::ChatCall> chat_calls(calls);
  std::atomic<std::size_t> done{0}, failed{0};
  std::promise<void> all_done;
  const auto request = question();
  const double loop_before = loop_cpu_us(loop);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < calls; ++i) {
    provider.start_chat(request, chat_calls[i], loop, [&](Result<providers::ChatResponse> answer) {
      if (!answer.ok() && failed++ == 0) {
        std::fprintf(stderr, "provider_bench: %s\n", answer.error().message.c_str());
      }
      if (++done == calls) all_done.set_value();
    });
  }
  all_done.get_future().wait();
  const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  loop_ms = (loop_cpu_us(loop) - loop_before) / 1000.0;
  failures = failed.load();
  return wall_ms;
}

void run_start_chat_in_flight(const std::string& origin, std::size_t calls, int hold_ms) {
  http::EventLoop loop;
  (void)server_stat(origin, "/reset", "peak");
  auto provider = openai(origin + "/hold/" + std::to_string(hold_ms) + "/v1",
                         std::make_shared<Canned>());  // start_chat never uses the transport
  std::size_t failures = 0;
  double loop_ms = 0;
  const double wall_ms = start_chat_burst(loop, *provider, calls, failures, loop_ms);
  const long peak = server_stat(origin, "/stats", "peak");
  std::printf(
      "start_chat %5zu at once, one loop: peak at server %5ld  wall %6.0f ms (ideal %d)  "
      "loop CPU %6.1f ms (%4.1f us/call)  fail %zu\n",
      calls, peak, wall_ms, hold_ms, loop_ms, loop_ms * 1000.0 / static_cast<double>(calls),
      failures);
  std::fflush(stdout);
}

void run_sim_latency(std::size_t calls, int latency_ms) {
  http::EventLoop loop;
  auto sim = providers::make_sim_provider(
      1,
      providers::SimOptions{std::chrono::milliseconds(latency_ms), std::chrono::milliseconds(0)});
  std::size_t failures = 0;
  double loop_ms = 0;
  const double wall_ms = start_chat_burst(loop, *sim, calls, failures, loop_ms);
  std::printf(
      "sim start_chat %6zu at once, %d ms latency, one loop: wall %6.0f ms (ideal %d)  "
      "loop CPU %6.1f ms (%4.1f us/call)  fail %zu\n",
      calls, latency_ms, wall_ms, latency_ms, loop_ms,
      loop_ms * 1000.0 / static_cast<double>(calls), failures);
  std::fflush(stdout);
}

// Runs a scenario `rounds` times: CPU time is noisy on a shared machine (other work
// evicts caches; a VM's steal time can count as ours), so the best round is the cost,
// and the median shows the spread.
std::vector<CpuRun> rounds_of(int rounds, const std::function<CpuRun()>& run) {
  std::vector<CpuRun> runs;
  for (int i = 0; i < rounds; ++i) runs.push_back(run());
  std::sort(runs.begin(), runs.end(),
            [](const CpuRun& a, const CpuRun& b) { return a.us_per_call < b.us_per_call; });
  return runs;
}

void report_cpu(const char* name, const std::vector<CpuRun>& runs, bool with_loop) {
  const CpuRun& best = runs.front();
  const CpuRun& median = runs[runs.size() / 2];
  std::size_t failures = 0;
  for (const auto& run : runs) failures += run.failures;
  std::printf("%-47s %6.1f us CPU/call (user %5.1f; median %6.1f)", name, best.us_per_call,
              best.user_us_per_call, median.us_per_call);
  if (with_loop) {
    std::printf(" loop thread %5.1f us  %7.0f calls/s  fail %zu  %s\n", best.loop_us_per_call,
                best.calls_per_s, failures,
                best.us_per_call <= 50.0 ? "target <= 50 us: met" : "target <= 50 us: MISSED");
  } else {
    std::printf("                   %7.0f calls/s  fail %zu\n", best.calls_per_s, failures);
  }
  std::fflush(stdout);
}

long server_stat(const std::string& origin, const char* path, const char* field) {
  static auto transport = http::make_curl_transport();
  http::Request request;
  request.method = "GET";
  request.url = origin + path;
  auto response = transport->send(request);
  if (!response) die("server stats", response.error());
  const std::string& body = response.value().body;
  const std::string key = std::string("\"") + field + "\":";
  const auto at = body.find(key);
  return at == std::string::npos ? -1 : std::strtol(body.c_str() + at + key.size(), nullptr, 10);
}

void run_in_flight(const std::string& origin, std::size_t transfers, int hold_ms) {
  http::EventLoop loop;
  (void)server_stat(origin, "/reset", "peak");
  const std::string body = providers::encode_chat_request(question());
  std::atomic<std::size_t> done{0}, failed{0};
  std::promise<void> all_done;
  const double loop_before = loop_cpu_us(loop);
  const auto start = Clock::now();
  std::vector<double> latency_ms(transfers);
  for (std::size_t i = 0; i < transfers; ++i) {
    http::Request request;
    request.url = origin + "/hold/" + std::to_string(hold_ms) + "/v1/chat/completions";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = body;
    request.timeout = std::chrono::seconds(60);
    loop.submit(std::move(request), [&, i](http::Outcome outcome) {
      latency_ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (!outcome.result.ok() || outcome.result.value().status != 200) {
        if (failed++ == 0 && !outcome.result.ok())
          std::fprintf(stderr, "provider_bench: %s\n", outcome.result.error().message.c_str());
      }
      if (++done == transfers) all_done.set_value();
    });
  }
  const double submit_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  all_done.get_future().wait();
  const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const double loop_ms = (loop_cpu_us(loop) - loop_before) / 1000.0;
  const long peak = server_stat(origin, "/stats", "peak");
  std::sort(latency_ms.begin(), latency_ms.end());
  const bool met = peak >= static_cast<long>(std::min<std::size_t>(transfers, 1000));
  std::printf(
      "in flight %5zu on one loop: peak at server %5ld  wall %6.0f ms (ideal %d)  "
      "p50 %5.0f ms p99 %5.0f ms  submit %4.0f ms  loop CPU %6.1f ms (%4.1f us/call)  "
      "fail %zu  %s\n",
      transfers, peak, wall_ms, hold_ms, latency_ms[transfers / 2],
      latency_ms[transfers * 99 / 100], submit_ms, loop_ms,
      loop_ms * 1000.0 / static_cast<double>(transfers), failed.load(),
      met ? "target 1,000 in flight: met" : "target 1,000 in flight: MISSED");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const std::size_t sequential = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000;
  const std::size_t per_caller = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 40;
  std::vector<std::size_t> in_flight;
  for (int i = 3; i < argc; ++i) in_flight.push_back(std::strtoul(argv[i], nullptr, 10));
  if (in_flight.empty()) in_flight = {1000, 2000};

  pid_t child = 0;
  const int port = start_server(child);
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);

  std::printf(
      "provider_bench: CPU in perdiem per non-streamed call (router plan + OpenAI "
      "encode/decode + HTTP),\nthe loopback server in a child process (not counted); "
      "%u cores, load average %s\n",
      std::thread::hardware_concurrency(), load_average().c_str());

  constexpr int kRounds = 5;
  {
    auto canned = openai(origin + "/v1", std::make_shared<Canned>());
    report_cpu("no HTTP (canned answer), 1 caller",
               rounds_of(kRounds, [&] { return run_calls(*canned, nullptr, 1, sequential); }),
               false);
  }
  {
    auto loop = std::make_shared<http::EventLoop>();
    auto provider =
        openai(origin + "/v1", std::make_shared<KeepAlive>(http::make_loop_transport(loop)));
    report_cpu("event loop, 1 caller, kept-alive connection",
               rounds_of(kRounds, [&] { return run_calls(*provider, loop.get(), 1, sequential); }),
               true);
    report_cpu("event loop, 64 callers",
               rounds_of(kRounds, [&] { return run_calls(*provider, loop.get(), 64, per_caller); }),
               true);
  }
  {
    http::EventLoop loop;
    report_cpu(
        "on the loop thread, no caller (scheduler path)",
        rounds_of(kRounds,
                  [&] { return run_on_loop(loop, origin + "/v1/chat/completions", sequential); }),
        true);
  }
  {
    auto provider =
        openai(origin + "/v1", std::make_shared<KeepAlive>(http::make_curl_transport()));
    report_cpu("blocking curl transport, 1 caller (compare)",
               rounds_of(kRounds, [&] { return run_calls(*provider, nullptr, 1, sequential); }),
               false);
  }

  std::printf(
      "provider_bench: calls in flight on one EventLoop, the server holding each "
      "200 ms (HTTP/1.1, a connection each)\n");
  for (std::size_t n : in_flight) run_in_flight(origin, n, 200);

  std::printf("provider_bench: Provider::start_chat (the scheduler's call)\n");
  {
    http::EventLoop loop;
    // Kept alive as LoopChain keeps its connection: the two differ only by the adapter.
    auto provider = openai(origin + "/v1", std::make_shared<Canned>(), true);
    report_cpu(
        "start_chat chained on the loop thread, kept-alive",
        rounds_of(kRounds, [&] { return run_start_chat_chain(loop, *provider, sequential); }),
        true);
  }
  for (std::size_t n : in_flight) run_start_chat_in_flight(origin, n, 200);
  run_sim_latency(10'000, 50);
  std::printf("load average after: %s\n", load_average().c_str());

  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  return 0;
}
