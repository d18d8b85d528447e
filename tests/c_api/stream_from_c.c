/* Streamed answers from C: a plan's model.stream, and with perdiem_config_set_stream_chat a
 * plain model.chat, reach the step callback as "delta" events between "started" and
 * "finished", in order, and their texts concatenate to the finished response. Exits
 * nonzero on a failed check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perdiem/perdiem.h"

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* One run at a time here, on the run's thread: no locking needed. */
typedef struct {
  int started, deltas, finished, out_of_order;
  char streamed[256]; /* the delta texts, concatenated */
  char response[256]; /* the finished event's text */
} stream_record;

static void on_step(const perdiem_step_event* event, void* user_data) {
  stream_record* r = (stream_record*)user_data;
  const char* phase = perdiem_step_event_phase(event);
  if (strcmp(phase, "started") == 0) {
    if (r->deltas != 0 || r->finished != 0) ++r->out_of_order;
    ++r->started;
    CHECK(strcmp(perdiem_step_event_delta_text(event), "") == 0);
  } else if (strcmp(phase, "delta") == 0) {
    if (r->started != 1 || r->finished != 0) ++r->out_of_order;
    ++r->deltas;
    CHECK(strcmp(perdiem_step_event_kind(event), "chat") == 0);
    const char* text = perdiem_step_event_delta_text(event);
    CHECK(text[0] != '\0');
    strncat(r->streamed, text, sizeof r->streamed - strlen(r->streamed) - 1);
  } else if (strcmp(phase, "finished") == 0) {
    ++r->finished;
    CHECK(strcmp(perdiem_step_event_delta_text(event), "") == 0);
    snprintf(r->response, sizeof r->response, "%s", perdiem_step_event_response_text(event));
  } else {
    ++r->out_of_order; /* no other phase exists today */
  }
}

static perdiem_runtime* sim_runtime(stream_record* record, int stream_chat) {
  perdiem_config* config = perdiem_config_new();
  CHECK(config != NULL);
  CHECK(perdiem_config_set_provider(config, "sim") == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_use_environment(config, 0) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_step_callback(config, on_step, record) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_stream_chat(config, stream_chat) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_stream_chat(NULL, 1) == PERDIEM_CODE_INVALID_ARGUMENT);
  perdiem_runtime* runtime = NULL;
  CHECK(perdiem_runtime_create_with(config, &runtime, NULL) == PERDIEM_CODE_OK);
  perdiem_config_free(config);
  return runtime;
}

static void run_and_check(const char* plan, int stream_chat, int expected_deltas,
                          const char* expected_text) {
  stream_record record;
  memset(&record, 0, sizeof record);
  perdiem_runtime* runtime = sim_runtime(&record, stream_chat);
  if (runtime == NULL) return;
  perdiem_result* result = NULL;
  CHECK(perdiem_run_string(runtime, plan, "stream.lua", NULL, &result) == PERDIEM_CODE_OK);
  CHECK(strcmp(perdiem_result_text(result), expected_text) == 0);
  perdiem_result_free(result);
  perdiem_runtime_free(runtime);

  CHECK(record.out_of_order == 0);
  CHECK(record.started == 1);
  CHECK(record.finished == 1);
  CHECK(record.deltas == expected_deltas);
  CHECK(strcmp(record.response, expected_text) == 0);
  if (expected_deltas > 0) CHECK(strcmp(record.streamed, record.response) == 0);
}

int main(void) {
  const char* stream_plan =
      "local n = 0\n"
      "local r = model.stream{messages={{role='user', content='reply with exactly: a b c d'}},\n"
      "                       on_delta=function(text) n = n + 1 end}\n"
      "assert(n == 4, 'on_delta ran ' .. n .. ' times')\n"
      "return r.content\n";
  const char* chat_plan =
      "return model.chat{messages={{role='user', content='reply with exactly: x y z'}}}.content";

  run_and_check(stream_plan, 0, 4, "a b c d"); /* model.stream always streams */
  run_and_check(chat_plan, 0, 0, "x y z");     /* model.chat only when asked */
  run_and_check(chat_plan, 1, 3, "x y z");

  if (failures == 0) printf("c api stream: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
