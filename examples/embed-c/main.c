/* embed-c: the smallest complete app that embeds perdiem through its C API.
 *
 *   embed-c [question]                 runs the built-in agent below on the question
 *   embed-c --file plan.lua [args...]  runs a plan file with its agent.args
 *
 * With no provider configured it uses the offline `sim` provider, which is free and
 * deterministic. Prints the agent's answer, what the run cost and its run id. Every call
 * returns a code; each object this program creates is freed by the matching *_free. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <perdiem/perdiem.h>

/* The agent this app runs when given no file: ask the model the app's question. */
static const char* const kAgent =
    "local question = agent.args[1] or 'Why should an agent hold its own budget?'\n"
    "local reply = model.chat{ messages = { { role = 'user', content = question } } }\n"
    "return reply.content\n";

/* Everything the app decides about its runtime: which provider, and the host's own
 * capabilities as the C API grows them. */
static perdiem_runtime_options runtime_options(void) {
  perdiem_runtime_options options = perdiem_runtime_options_default();
  options.use_environment = 1; /* PERDIEM_PROVIDER etc., else the sim */
  return options;
}

/* One run's limits: here a budget of one US cent, enforced before each model call. */
static perdiem_run_options run_options(const char* const* args, size_t count) {
  perdiem_run_options options = perdiem_run_options_default();
  options.args = args;
  options.arg_count = count;
  options.budget_nanos = 1000000000 / 100;
  return options;
}

/* Prints the run's outcome and frees it. Returns the process's exit code. */
static int report(perdiem_result* result) {
  int exit_code = 0;
  if (perdiem_result_code(result) != PERDIEM_CODE_OK) {
    fprintf(stderr, "agent failed: %s: %s\n", perdiem_code_name(perdiem_result_code(result)),
            perdiem_result_error_message(result));
    exit_code = 1;
  } else {
    int64_t cost = perdiem_result_cost_nanos(result);
    printf("answer: %s\n", perdiem_result_text(result));
    printf("cost: %" PRId64 " nano-USD over %d model call(s)\n", cost,
           perdiem_result_model_calls(result));
    printf("run id: %s\n", perdiem_result_run_id(result));
    printf("served by: %s\n", perdiem_result_providers(result));
  }
  perdiem_result_free(result);
  return exit_code;
}

int main(int argc, char** argv) {
  perdiem_runtime_options options = runtime_options();
  perdiem_runtime* runtime = NULL;
  char* error = NULL;
  if (perdiem_runtime_create(&options, &runtime, &error) != PERDIEM_CODE_OK) {
    fprintf(stderr, "cannot start perdiem: %s\n", error);
    perdiem_string_free(error);
    return 1;
  }
  printf("perdiem %s\n", perdiem_version());

  const char* const* args = (const char* const*)(argv + 1);
  size_t count = (size_t)(argc - 1);
  perdiem_result* result = NULL;
  if (count > 0 && strcmp(args[0], "--file") == 0) {
    if (count < 2) {
      fprintf(stderr, "usage: embed-c --file plan.lua [args...]\n");
      perdiem_runtime_free(runtime);
      return 2;
    }
    perdiem_run_options run = run_options(args + 2, count - 2);
    perdiem_run_file(runtime, args[1], &run, &result);
  } else {
    perdiem_run_options run = run_options(args, count);
    perdiem_run_string(runtime, kAgent, "embed-c-agent", &run, &result);
  }
  /* A run stores a result even when the agent failed; NULL only for a NULL argument. */
  int exit_code = result != NULL ? report(result) : 1;
  perdiem_runtime_free(runtime);
  return exit_code;
}
