/* Host tools from C: a C callback answers tool.call from eight runs at once and the
 * several calls of one model reply at once; a failing tool's code and message reach the
 * plan; a call with invalid arguments never reaches the callback. Exits nonzero on a
 * failed check. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perdiem/perdiem.h"

static atomic_int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static atomic_int add_calls;

/* {"a":A,"b":B} -> A+B, as text. The arguments were validated against the schema. */
static perdiem_code add_tool(const char* arguments_json, perdiem_tool_reply* reply,
                             void* user_data) {
  CHECK(user_data == (void*)&add_calls);
  atomic_fetch_add(&add_calls, 1);
  long long a = 0, b = 0;
  if (sscanf(arguments_json, "{\"a\":%lld,\"b\":%lld}", &a, &b) != 2) {
    return perdiem_tool_reply_set_error(reply, PERDIEM_CODE_INVALID_ARGUMENT, arguments_json);
  }
  char sum[32];
  snprintf(sum, sizeof sum, "%lld", a + b);
  return perdiem_tool_reply_set_result(reply, sum);
}

static perdiem_code lookup_tool(const char* arguments_json, perdiem_tool_reply* reply,
                                void* user_data) {
  (void)arguments_json;
  (void)user_data;
  return perdiem_tool_reply_set_error(reply, PERDIEM_CODE_NOT_FOUND, "no such order");
}

static const char* kSchema =
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"}"
    "},"
    "\"required\":[\"a\",\"b\"]}";

static const char* kPlan =
    "local base = tonumber(agent.args[1])\n"
    "local total = 0\n"
    "for k = 1, 10 do total = total + tonumber(tool.call('c.add', {a = base, b = k})) end\n"
    "local ok, err = pcall(tool.call, 'c.lookup', {})\n"
    "assert(not ok and err.kind == 'not_found' and err.message:find('no such order'))\n"
    "local bad_ok, bad = pcall(tool.call, 'c.add', {a = 'x', b = 1})\n"
    "assert(not bad_ok and bad.kind == 'tool')\n"
    "local reply = model.chat{messages = {{role = 'user', content =\n"
    "  'call tool c__add with {\"a\": 1, \"b\": 2}\\ncall tool c__add with {\"a\": 3, \"b\": "
    "4}'}},\n"
    "  tools = {'c.add'}}\n"
    "local results = tool.run(reply.tool_calls)\n"
    "return total .. ' ' .. results[1].content .. ' ' .. results[2].content\n";

int main(void) {
  perdiem_config* config = perdiem_config_new();
  CHECK(config != NULL);
  CHECK(perdiem_config_set_provider(config, "sim") == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_use_environment(config, 0) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_add_tool(config, "c.add", "Adds two integers.", kSchema, -1, add_tool,
                                &add_calls) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_add_tool(config, "c.lookup", "Looks up an order.", NULL, -1, lookup_tool,
                                NULL) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_add_tool(config, "c.none", "", NULL, -1, NULL, NULL) ==
        PERDIEM_CODE_INVALID_ARGUMENT);

  perdiem_runtime* runtime = NULL;
  char* error = NULL;
  if (perdiem_runtime_create_with(config, &runtime, &error) != PERDIEM_CODE_OK) {
    fprintf(stderr, "cannot create the runtime: %s\n", error);
    perdiem_string_free(error);
    return 1;
  }
  perdiem_config_free(config);

  enum { kRuns = 8 };
  perdiem_run* runs[kRuns];
  for (int i = 0; i < kRuns; ++i) {
    perdiem_run_config* run_config = perdiem_run_config_new();
    char base[16];
    snprintf(base, sizeof base, "%d", i * 100);
    perdiem_run_config_add_arg(run_config, base);
    CHECK(perdiem_run_start_string(runtime, kPlan, "tools.lua", run_config, &runs[i]) ==
          PERDIEM_CODE_OK);
    perdiem_run_config_free(run_config);
  }
  for (int i = 0; i < kRuns; ++i) {
    perdiem_result* result = NULL;
    perdiem_code code = perdiem_run_wait(runs[i], &result);
    CHECK(code == PERDIEM_CODE_OK);
    if (code != PERDIEM_CODE_OK) fprintf(stderr, "%s\n", perdiem_result_error_message(result));
    char expected[64];
    snprintf(expected, sizeof expected, "%d 3 7", 10 * i * 100 + 55);
    CHECK(strcmp(perdiem_result_text(result), expected) == 0);
    perdiem_result_free(result);
    perdiem_run_free(runs[i]);
  }
  /* Per run: 10 direct calls and 2 from the model's reply; the invalid call never ran. */
  CHECK(atomic_load(&add_calls) == kRuns * 12);

  /* A bad tool name is refused when the runtime is created, with a message. */
  perdiem_config* bad = perdiem_config_new();
  perdiem_config_set_provider(bad, "sim");
  perdiem_config_add_tool(bad, "no spaces allowed", "", NULL, -1, add_tool, &add_calls);
  perdiem_runtime* refused = NULL;
  char* message = NULL;
  CHECK(perdiem_runtime_create_with(bad, &refused, &message) == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(refused == NULL && message != NULL);
  perdiem_string_free(message);
  perdiem_config_free(bad);

  perdiem_runtime_free(runtime);
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("ok: %d runs, %d tool calls answered from C\n", kRuns, atomic_load(&add_calls));
  return 0;
}
