// The sim provider's tool calls: scripted by the user's words, so a tool loop can be
// developed and tested offline.
#include <string>
#include <string_view>

#include "runtime/providers/sim_provider.hpp"
#include "runtime/providers/text.hpp"

namespace perdiem::providers {
namespace {

constexpr std::string_view kCue = "call tool ";
constexpr std::string_view kWith = " with ";
constexpr std::size_t kQuotedResultChars = 200;

bool offered(const ChatRequest& request, std::string_view name) {
  for (const ToolDefinition& tool : request.tools) {
    if (tool.name == name) return true;
  }
  return false;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "call tool NAME with {json}" anywhere in `line`, NAME an offered tool.
std::optional<ToolCall> scripted_call(const ChatRequest& request, std::string_view line,
                                      std::size_t number) {
  const std::string lower = lowercase(line);
  const std::size_t cue = lower.find(kCue);
  if (cue == std::string::npos) return std::nullopt;
  const std::size_t name_at = cue + kCue.size();
  const std::size_t with = lower.find(kWith, name_at);
  if (with == std::string::npos) return std::nullopt;
  const std::string name(line.substr(name_at, with - name_at));
  if (!offered(request, name)) return std::nullopt;
  std::string_view arguments = line.substr(with + kWith.size());
  while (!arguments.empty() && (arguments.back() == ' ' || arguments.back() == '\r')) {
    arguments.remove_suffix(1);
  }
  return ToolCall{"call_" + std::to_string(number), name, std::string(arguments)};
}

}  // namespace

bool apply_sim_tool_turn(const ChatRequest& request, ChatResponse& response) {
  if (request.messages.empty()) return false;
  const Message& last = request.messages.back();
  if (last.role == "tool") {
    std::string joined;
    for (auto it = request.messages.rbegin(); it != request.messages.rend() && it->role == "tool";
         ++it) {
      joined =
          text::excerpt(it->content, kQuotedResultChars) + (joined.empty() ? "" : " | ") + joined;
    }
    response.content = "sim: tool results: " + joined;
    return true;
  }
  if (last.role != "user" || request.tools.empty()) return false;
  std::string_view rest = last.content;
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    if (auto call = scripted_call(request, line, response.tool_calls.size() + 1)) {
      response.tool_calls.push_back(std::move(*call));
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  if (response.tool_calls.empty()) return false;
  response.finish_reason = "tool_calls";
  response.content.clear();
  return true;
}

}  // namespace perdiem::providers
