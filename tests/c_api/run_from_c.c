/* The C API, driven from C: create a runtime on the sim provider, run plans, read the
 * results, free everything. Exits nonzero with a message on the first failed check. */
#include <stdio.h>
#include <string.h>

#include "perdiem/perdiem.h"

static int failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

int main(void) {
  perdiem_runtime_options options = perdiem_runtime_options_default();
  options.provider = "sim";
  options.use_environment = 0;
  perdiem_runtime* runtime = NULL;
  char* error = NULL;
  CHECK(perdiem_runtime_create(&options, &runtime, &error) == PERDIEM_CODE_OK);
  CHECK(runtime != NULL);
  if (runtime == NULL) {
    fprintf(stderr, "create failed: %s\n", error ? error : "?");
    perdiem_string_free(error);
    return 1;
  }

  /* A plan that calls the model and returns a table. */
  const char* args[] = {"alpha", "beta"};
  perdiem_run_options run = perdiem_run_options_default();
  run.args = args;
  run.arg_count = 2;
  perdiem_result* result = NULL;
  perdiem_code code = perdiem_run_string(
      runtime,
      "local r = model.chat{messages={{role='user', content=agent.args[2]}}}\n"
      "return {first = agent.args[1], served_by = r.provider}\n",
      "from_c.lua", &run, &result);
  CHECK(code == PERDIEM_CODE_OK);
  CHECK(perdiem_result_code(result) == PERDIEM_CODE_OK);
  CHECK(strstr(perdiem_result_json(result), "\"first\":\"alpha\"") != NULL);
  CHECK(strstr(perdiem_result_json(result), "\"served_by\":\"sim\"") != NULL);
  CHECK(strcmp(perdiem_result_providers(result), "sim") == 0);
  CHECK(perdiem_result_model_calls(result) == 1);
  CHECK(perdiem_result_cost_nanos(result) == 0); /* the sim is free */
  CHECK(strncmp(perdiem_result_run_id(result), "run-", 4) == 0);
  CHECK(strcmp(perdiem_result_error_message(result), "") == 0);
  perdiem_result_free(result);

  /* A failing plan: the code says why, the message names the line. */
  result = NULL;
  code = perdiem_run_string(runtime, "local x = nil\nreturn x.field\n", "broken.lua", NULL,
                            &result);
  CHECK(code == PERDIEM_CODE_SCRIPT);
  CHECK(perdiem_result_code(result) == PERDIEM_CODE_SCRIPT);
  CHECK(strstr(perdiem_result_error_message(result), "broken.lua:2") != NULL);
  CHECK(strcmp(perdiem_result_text(result), "") == 0);
  perdiem_result_free(result);

  /* The sandbox, seen from C. */
  result = NULL;
  code = perdiem_run_string(runtime, "return io.open('/etc/passwd')", "io.lua", NULL, &result);
  CHECK(code == PERDIEM_CODE_SANDBOX);
  perdiem_result_free(result);

  /* NULL arguments are refused, not dereferenced. */
  result = NULL;
  CHECK(perdiem_run_string(runtime, NULL, "x", NULL, &result) == PERDIEM_CODE_INVALID_ARGUMENT);
  CHECK(result == NULL);
  CHECK(strcmp(perdiem_code_name(PERDIEM_CODE_RATE_LIMITED), "rate_limited") == 0);
  CHECK(strcmp(perdiem_code_name((perdiem_code)999), "unknown") == 0);

  /* An unknown provider fails creation with a message. */
  perdiem_runtime* bad = NULL;
  options.provider = "nosuch";
  CHECK(perdiem_runtime_create(&options, &bad, &error) == PERDIEM_CODE_CONFIG);
  CHECK(bad == NULL);
  CHECK(error != NULL && strstr(error, "nosuch") != NULL);
  perdiem_string_free(error);

  perdiem_runtime_free(runtime);
  if (failures == 0) printf("c api: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
