/* Background runs, run and step events and a host provider, driven from C: eight runs at once
 * answered by a C callback, a spinning run cancelled, a handle freed while its run goes
 * on, and every step event checked for order and fields. Exits nonzero on a failed check. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perdiem/perdiem.h"

static atomic_int failures; /* callbacks check from the runs' threads too */

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* ---- The host provider: echoes the last message; "fail" fails the call. ---- */

static atomic_int host_calls;

static perdiem_code host_chat(const perdiem_host_request* request, perdiem_host_reply* reply,
                              void* user_data) {
  atomic_fetch_add(&host_calls, 1);
  CHECK(user_data == (void*)&host_calls);
  CHECK(perdiem_host_request_max_tokens(request) > 0);
  size_t count = perdiem_host_request_message_count(request);
  if (count == 0)
    return perdiem_host_reply_set_error(reply, PERDIEM_CODE_INVALID_ARGUMENT, "no messages");
  CHECK(strcmp(perdiem_host_request_message_role(request, count - 1), "user") == 0);
  CHECK(strcmp(perdiem_host_request_message_role(request, count), "") == 0); /* out of range */
  const char* last = perdiem_host_request_message_content(request, count - 1);
  if (strcmp(last, "fail") == 0) {
    return perdiem_host_reply_set_error(reply, PERDIEM_CODE_PROVIDER, "the app's model is down");
  }
  char answer[256];
  snprintf(answer, sizeof answer, "echo: %s", last);
  if (perdiem_host_reply_set_content(reply, answer) != PERDIEM_CODE_OK)
    return PERDIEM_CODE_INTERNAL;
  perdiem_host_reply_set_model(reply, "echo-1");
  perdiem_host_reply_set_tokens(reply, (int64_t)strlen(last), (int64_t)strlen(answer));
  return PERDIEM_CODE_OK;
}

/* ---- The run listener: counts runs started and finished, and the cancelled ones. ---- */

static atomic_int runs_started, runs_finished, runs_cancelled;

static void on_run(const perdiem_run_event* event, void* user_data) {
  CHECK(user_data == (void*)&runs_started);
  CHECK(strncmp(perdiem_run_event_run_id(event), "run-", 4) == 0);
  CHECK(perdiem_run_event_depth(event) == 0); /* no plan here spawns a sub-agent */
  CHECK(strcmp(perdiem_run_event_parent_run_id(event), "") == 0);
  if (strcmp(perdiem_run_event_phase(event), "started") == 0) {
    atomic_fetch_add(&runs_started, 1);
    CHECK(perdiem_run_event_error_code(event) == PERDIEM_CODE_OK);
    return;
  }
  CHECK(strcmp(perdiem_run_event_phase(event), "finished") == 0);
  atomic_fetch_add(&runs_finished, 1);
  if (perdiem_run_event_error_code(event) == PERDIEM_CODE_CANCELLED) {
    atomic_fetch_add(&runs_cancelled, 1);
    CHECK(strstr(perdiem_run_event_error_message(event), "cancelled") != NULL);
  }
  CHECK(perdiem_run_event_cost_nanos(event) == 0); /* the host provider is free */
}

/* ---- The step listener: copies what it needs, under a mutex. ---- */

#define MAX_EVENTS 64

typedef struct {
  char run_id[64];
  int64_t step;
  char kind[16];
  char phase[16];
  char provider[32];
  char model[32];
  int request_has_prompt; /* the request JSON carries the run's prompt */
  char response[128];
  perdiem_code error_code;
  char error_message[256];
  int64_t input_tokens;
  int64_t output_tokens;
  int64_t cost_nanos;
  int64_t latency_ms;
} recorded_event;

typedef struct {
  pthread_mutex_t mutex;
  recorded_event events[MAX_EVENTS];
  int count;
} recorder;

static void copy_text(char* to, size_t size, const char* from) {
  snprintf(to, size, "%s", from);
}

static void on_step(const perdiem_step_event* event, void* user_data) {
  recorder* r = (recorder*)user_data;
  pthread_mutex_lock(&r->mutex);
  if (r->count < MAX_EVENTS) {
    recorded_event* e = &r->events[r->count++];
    copy_text(e->run_id, sizeof e->run_id, perdiem_step_event_run_id(event));
    e->step = perdiem_step_event_step(event);
    copy_text(e->kind, sizeof e->kind, perdiem_step_event_kind(event));
    copy_text(e->phase, sizeof e->phase, perdiem_step_event_phase(event));
    copy_text(e->provider, sizeof e->provider, perdiem_step_event_provider(event));
    copy_text(e->model, sizeof e->model, perdiem_step_event_model(event));
    e->request_has_prompt = strstr(perdiem_step_event_request_json(event), "task-") != NULL;
    copy_text(e->response, sizeof e->response, perdiem_step_event_response_text(event));
    e->error_code = perdiem_step_event_error_code(event);
    copy_text(e->error_message, sizeof e->error_message, perdiem_step_event_error_message(event));
    e->input_tokens = perdiem_step_event_input_tokens(event);
    e->output_tokens = perdiem_step_event_output_tokens(event);
    e->cost_nanos = perdiem_step_event_cost_nanos(event);
    e->latency_ms = perdiem_step_event_latency_ms(event);
  }
  pthread_mutex_unlock(&r->mutex);
}

/* The events of one run, in arrival order; returns how many. */
static int events_of(recorder* r, const char* run_id, recorded_event** out, int max) {
  int n = 0;
  for (int i = 0; i < r->count && n < max; ++i) {
    if (strcmp(r->events[i].run_id, run_id) == 0) out[n++] = &r->events[i];
  }
  return n;
}

#define RUNS 8

static const char* kEchoPlan =
    "local r = model.chat{messages={{role='user', content=agent.args[1]}}}\n"
    "return r.content\n";

static void eight_runs_at_once(perdiem_runtime* runtime, recorder* steps) {
  perdiem_run* runs[RUNS] = {0};
  char prompts[RUNS][32];
  for (int i = 0; i < RUNS; ++i) {
    snprintf(prompts[i], sizeof prompts[i], "task-%d", i);
    perdiem_run_config* config = perdiem_run_config_new();
    CHECK(config != NULL);
    CHECK(perdiem_run_config_add_arg(config, prompts[i]) == PERDIEM_CODE_OK);
    CHECK(perdiem_run_start_string(runtime, kEchoPlan, "echo.lua", config, &runs[i]) ==
          PERDIEM_CODE_OK);
    perdiem_run_config_free(config); /* the run keeps its own copy */
    CHECK(runs[i] != NULL);
    CHECK(strncmp(perdiem_run_id(runs[i]), "run-", 4) == 0);
  }
  for (int i = 0; i < RUNS; ++i) {
    perdiem_result* result = NULL;
    CHECK(perdiem_run_wait(runs[i], &result) == PERDIEM_CODE_OK);
    CHECK(perdiem_run_done(runs[i]) == 1);
    char expected[64];
    snprintf(expected, sizeof expected, "echo: task-%d", i);
    CHECK(strcmp(perdiem_result_text(result), expected) == 0);
    CHECK(strcmp(perdiem_result_providers(result), "app") == 0);
    CHECK(perdiem_result_model_calls(result) == 1);
    CHECK(perdiem_result_cost_nanos(result) == 0); /* an unpriced host provider is free */
    CHECK(strcmp(perdiem_result_run_id(result), perdiem_run_id(runs[i])) == 0);
    perdiem_result_free(result);

    /* Waiting again gives the same result, in a copy of its own. */
    int finished = 0;
    result = NULL;
    CHECK(perdiem_run_wait_for(runs[i], 0, &result, &finished) == PERDIEM_CODE_OK);
    CHECK(finished == 1);
    CHECK(strcmp(perdiem_result_text(result), expected) == 0);
    perdiem_result_free(result);

    /* Two events per run: started, then finished, both step 1 of kind chat. */
    recorded_event* mine[4];
    pthread_mutex_lock(&steps->mutex);
    int n = events_of(steps, perdiem_run_id(runs[i]), mine, 4);
    CHECK(n == 2);
    if (n == 2) {
      CHECK(strcmp(mine[0]->phase, "started") == 0);
      CHECK(strcmp(mine[1]->phase, "finished") == 0);
      for (int k = 0; k < 2; ++k) {
        CHECK(mine[k]->step == 1);
        CHECK(strcmp(mine[k]->kind, "chat") == 0);
        CHECK(strcmp(mine[k]->provider, "app") == 0);
        CHECK(mine[k]->request_has_prompt);
        CHECK(mine[k]->error_code == PERDIEM_CODE_OK);
        CHECK(strcmp(mine[k]->error_message, "") == 0);
        CHECK(mine[k]->cost_nanos == 0);
        CHECK(mine[k]->latency_ms >= 0);
      }
      CHECK(strcmp(mine[0]->response, "") == 0);
      CHECK(mine[0]->input_tokens == 0);
      CHECK(strcmp(mine[1]->response, expected) == 0);
      CHECK(strcmp(mine[1]->model, "echo-1") == 0);
      CHECK(mine[1]->input_tokens == (int64_t)strlen(prompts[i]));
      CHECK(mine[1]->output_tokens == (int64_t)strlen(expected));
    }
    pthread_mutex_unlock(&steps->mutex);
    perdiem_run_free(runs[i]);
  }
  CHECK(atomic_load(&host_calls) == RUNS);
  pthread_mutex_lock(&steps->mutex);
  CHECK(steps->count == 2 * RUNS);
  pthread_mutex_unlock(&steps->mutex);
}

static void a_failing_host_call(perdiem_runtime* runtime, recorder* steps) {
  perdiem_run_config* config = perdiem_run_config_new();
  CHECK(perdiem_run_config_add_arg(config, "fail") == PERDIEM_CODE_OK);
  perdiem_run* run = NULL;
  CHECK(perdiem_run_start_string(runtime, kEchoPlan, "fail.lua", config, &run) == PERDIEM_CODE_OK);
  perdiem_run_config_free(config);
  perdiem_result* result = NULL;
  CHECK(perdiem_run_wait(run, &result) == PERDIEM_CODE_PROVIDER);
  CHECK(strstr(perdiem_result_error_message(result), "the app's model is down") != NULL);
  perdiem_result_free(result);

  recorded_event* mine[4];
  pthread_mutex_lock(&steps->mutex);
  int n = events_of(steps, perdiem_run_id(run), mine, 4);
  CHECK(n == 2);
  if (n == 2) {
    CHECK(strcmp(mine[1]->phase, "finished") == 0);
    CHECK(mine[1]->error_code == PERDIEM_CODE_PROVIDER);
    CHECK(strstr(mine[1]->error_message, "the app's model is down") != NULL);
  }
  pthread_mutex_unlock(&steps->mutex);
  perdiem_run_free(run);
}

static perdiem_run_config* spin_config(void) {
  perdiem_run_config* config = perdiem_run_config_new();
  CHECK(perdiem_run_config_set_instruction_limit(config, 0) == PERDIEM_CODE_OK); /* no limit */
  return config;
}

static void cancel_a_spinning_run(perdiem_runtime* runtime) {
  perdiem_run_config* config = spin_config();
  perdiem_run* run = NULL;
  CHECK(perdiem_run_start_string(runtime, "while true do end", "spin.lua", config, &run) ==
        PERDIEM_CODE_OK);
  perdiem_run_config_free(config);

  /* Not finished: *finished 0, *out NULL, and the code OK. */
  perdiem_result* result = (perdiem_result*)&result; /* must be overwritten with NULL */
  int finished = -1;
  CHECK(perdiem_run_wait_for(run, 50, &result, &finished) == PERDIEM_CODE_OK);
  CHECK(finished == 0);
  CHECK(result == NULL);
  CHECK(perdiem_run_done(run) == 0);

  perdiem_run_cancel(run);
  CHECK(perdiem_run_wait(run, &result) == PERDIEM_CODE_CANCELLED);
  CHECK(perdiem_result_code(result) == PERDIEM_CODE_CANCELLED);
  CHECK(strstr(perdiem_result_error_message(result), "cancelled") != NULL);
  perdiem_result_free(result);
  perdiem_run_cancel(run); /* cancelling a finished run does nothing */
  perdiem_run_free(run);
}

/* A handle freed, and a handle kept, while their runs spin: freeing the runtime cancels
 * both and waits for them; the kept handle then reads the cancelled result. */
static perdiem_run* spin_and_forget(perdiem_runtime* runtime) {
  perdiem_run_config* config = spin_config();
  perdiem_run* forgotten = NULL;
  perdiem_run* kept = NULL;
  CHECK(perdiem_run_start_string(runtime, "while true do end", "a.lua", config, &forgotten) ==
        PERDIEM_CODE_OK);
  CHECK(perdiem_run_start_string(runtime, "while true do end", "b.lua", config, &kept) ==
        PERDIEM_CODE_OK);
  perdiem_run_config_free(config);
  perdiem_run_free(forgotten); /* does not stop it */
  return kept;
}

static void null_arguments_are_refused(perdiem_runtime* runtime) {
  perdiem_run* run = (perdiem_run*)&run;
  CHECK(perdiem_run_start_string(runtime, NULL, "x", NULL, &run) == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(run == NULL);
  CHECK(perdiem_run_start_file(NULL, "x.lua", NULL, &run) == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(perdiem_run_start_string(runtime, "return 1", "x", NULL, NULL) ==
        PERDIEM_CODE_INVALID_ARGUMENT);
  perdiem_result* result = NULL;
  int finished = 0;
  CHECK(perdiem_run_wait(NULL, &result) == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(perdiem_run_wait_for(NULL, 0, &result, &finished) == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(perdiem_config_set_provider(NULL, "sim") == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(perdiem_run_config_add_arg(NULL, "x") == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(strcmp(perdiem_run_id(NULL), "") == 0);
  perdiem_run_cancel(NULL);
  perdiem_run_free(NULL);

  /* A missing file fails the run, not the start. */
  CHECK(perdiem_run_start_file(runtime, "/nonexistent/plan.lua", NULL, &run) == PERDIEM_CODE_OK);
  CHECK(perdiem_run_wait(run, &result) != PERDIEM_CODE_OK);
  perdiem_result_free(result);
  perdiem_run_free(run);

  /* A negative timeout is refused. */
  perdiem_run_config* config = perdiem_run_config_new();
  CHECK(perdiem_run_config_set_timeout_ms(config, -1) == PERDIEM_CODE_INVALID_ARGUMENT);
  perdiem_run_config_free(config);
}

int main(void) {
  atomic_init(&host_calls, 0);
  atomic_init(&runs_started, 0);
  atomic_init(&runs_finished, 0);
  atomic_init(&runs_cancelled, 0);
  recorder steps;
  memset(&steps, 0, sizeof steps);
  pthread_mutex_init(&steps.mutex, NULL);

  perdiem_config* config = perdiem_config_new();
  CHECK(config != NULL);
  CHECK(perdiem_config_set_use_environment(config, 0) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_host_provider(config, "app", host_chat, &host_calls) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_host_provider(config, "", host_chat, NULL) ==
        PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(perdiem_config_set_step_callback(config, on_step, &steps) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_run_callback(config, on_run, &runs_started) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_run_callback(NULL, on_run, NULL) == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(perdiem_config_set_default_max_tokens(config, 0) == PERDIEM_CODE_INVALID_ARGUMENT);
  /* One scheduler thread: every run below shares it, the spinning ones preempted. */
  CHECK(perdiem_config_set_scheduler_threads(config, 1) == PERDIEM_CODE_OK);
  CHECK(perdiem_config_set_scheduler_threads(NULL, 1) == PERDIEM_CODE_INVALID_ARGUMENT);
  perdiem_runtime* runtime = NULL;
  char* error = NULL;
  CHECK(perdiem_runtime_create_with(config, &runtime, &error) == PERDIEM_CODE_OK);
  perdiem_config_free(config); /* the runtime keeps what it needs */
  if (runtime == NULL) {
    fprintf(stderr, "create failed: %s\n", error ? error : "?");
    perdiem_string_free(error);
    return 1;
  }

  eight_runs_at_once(runtime, &steps);
  a_failing_host_call(runtime, &steps);
  cancel_a_spinning_run(runtime);
  null_arguments_are_refused(runtime);
  perdiem_run* kept = spin_and_forget(runtime);
  perdiem_runtime_free(runtime); /* cancels and joins both spinning runs */
  /* Every run that started finished, once: the eight, the failing one and the three
   * spinning ones, which were cancelled (one by its handle, two by freeing the runtime). */
  CHECK(atomic_load(&runs_started) >= 12);
  CHECK(atomic_load(&runs_finished) == atomic_load(&runs_started));
  CHECK(atomic_load(&runs_cancelled) == 3);

  perdiem_result* result = NULL;
  int finished = 0;
  CHECK(perdiem_run_wait_for(kept, 0, &result, &finished) == PERDIEM_CODE_CANCELLED);
  CHECK(finished == 1);
  perdiem_result_free(result);
  perdiem_run_free(kept);

  /* A builder's runtime on the sim provider, without callbacks, like the old call. */
  config = perdiem_config_new();
  perdiem_config_set_provider(config, "sim");
  perdiem_config_set_use_environment(config, 0);
  runtime = NULL;
  CHECK(perdiem_runtime_create_with(config, &runtime, NULL) == PERDIEM_CODE_OK);
  perdiem_config_set_provider(config, "nosuch");
  perdiem_runtime* bad = NULL;
  CHECK(perdiem_runtime_create_with(config, &bad, &error) == PERDIEM_CODE_CONFIG);
  CHECK(bad == NULL);
  CHECK(error != NULL && strstr(error, "nosuch") != NULL);
  perdiem_string_free(error);
  perdiem_config_free(config);
  perdiem_run* run = NULL;
  CHECK(perdiem_run_start_string(
            runtime, "return model.chat{messages={{role='user', content='hi'}}}.provider", NULL,
            NULL, &run) == PERDIEM_CODE_OK);
  CHECK(perdiem_run_wait(run, &result) == PERDIEM_CODE_OK);
  CHECK(strcmp(perdiem_result_text(result), "sim") == 0);
  perdiem_result_free(result);
  perdiem_run_free(run);
  perdiem_runtime_free(runtime);

  pthread_mutex_destroy(&steps.mutex);
  if (failures == 0) printf("c api background: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
