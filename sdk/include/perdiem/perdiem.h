/* perdiem C API: opaque handles, error codes plus messages.
 *
 * Every fallible call returns a perdiem_code (PERDIEM_CODE_OK is 0). Where a call takes
 * `char** error_message`, a failure stores a message there that the caller frees with
 * perdiem_string_free (pass NULL to ignore it). Strings returned as `const char*` are
 * owned by the object they came from and live as long as it does.
 *
 * Thread-safety: a perdiem_runtime may be used from several threads at once; so may a
 * perdiem_run (all but perdiem_run_free). A perdiem_result, perdiem_config and
 * perdiem_run_config belong to one thread at a time. Callbacks (step events, the host
 * provider) are called on the threads that run the plans, concurrently across runs.
 * No C++ exception crosses this API, in either direction: callbacks must return normally
 * (no longjmp, no C++ exception out of them).
 *
 * ABI rule: a released function, enum value or struct layout never changes. The by-value
 * structs perdiem_runtime_options and perdiem_run_options are frozen as they are: a program
 * built against an older header allocates the older, smaller struct, so a field added at
 * the end would be read past the end of it. Settings added since then live in opaque
 * builders, perdiem_config (runtimes) and perdiem_run_config (runs), one
 * perdiem_<builder>_set_<setting> function each; a new setting is a new function. */
#ifndef PERDIEM_H
#define PERDIEM_H

#include <stddef.h>
#include <stdint.h>

#include "perdiem/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mirrors perdiem::ErrorKind (plus OK); values never change once released. */
typedef enum perdiem_code {
  PERDIEM_CODE_OK = 0,
  PERDIEM_CODE_INVALID_ARGUMENT = 1,
  PERDIEM_CODE_USAGE = 2,
  PERDIEM_CODE_CONFIG = 3,
  PERDIEM_CODE_SCRIPT = 4,
  PERDIEM_CODE_SANDBOX = 5,
  PERDIEM_CODE_LIMIT = 6,
  PERDIEM_CODE_PROVIDER = 7,
  PERDIEM_CODE_AUTH = 8,
  PERDIEM_CODE_RATE_LIMITED = 9,
  PERDIEM_CODE_TRANSPORT = 10,
  PERDIEM_CODE_BAD_RESPONSE = 11,
  PERDIEM_CODE_INSUFFICIENT_CREDITS = 12,
  PERDIEM_CODE_BUDGET_EXCEEDED = 13,
  PERDIEM_CODE_TIMEOUT = 14,
  PERDIEM_CODE_CANCELLED = 15,
  PERDIEM_CODE_TOOL = 16,
  PERDIEM_CODE_STORAGE = 17,
  PERDIEM_CODE_NOT_FOUND = 18,
  PERDIEM_CODE_INTERNAL = 19
} perdiem_code;

typedef struct perdiem_runtime perdiem_runtime;
typedef struct perdiem_result perdiem_result;

/* Frozen (the ABI rule above); newer settings are on perdiem_config. */
typedef struct perdiem_runtime_options {
  const char* provider; /* NULL: environment, then the sim provider */
  const char* base_url; /* any OpenAI-compatible server */
  const char* model;    /* the model for calls that name none */
  int use_environment;  /* nonzero: unset fields come from PERDIEM_* variables */
  uint64_t sim_seed;
} perdiem_runtime_options;

/* Frozen (the ABI rule above); newer limits, e.g. the instruction limit, are on
 * perdiem_run_config. */
typedef struct perdiem_run_options {
  const char* const* args; /* the plan's agent.args; may be NULL when arg_count is 0 */
  size_t arg_count;
  size_t memory_limit_bytes; /* 0: the default, 64 MiB */
  int64_t budget_nanos;      /* the most this run may spend in nano-USD; < 0: no budget */
  int64_t max_call_nanos;    /* the most one call may reserve; < 0: no limit */
} perdiem_run_options;

PERDIEM_API const char* perdiem_version(void);
/* "rate_limited" for PERDIEM_CODE_RATE_LIMITED; "ok" for 0; "unknown" otherwise. */
PERDIEM_API const char* perdiem_code_name(perdiem_code code);
PERDIEM_API void perdiem_string_free(char* s);

PERDIEM_API perdiem_runtime_options perdiem_runtime_options_default(void);
PERDIEM_API perdiem_run_options perdiem_run_options_default(void);

/* Stores a new runtime in *out, or NULL and an error. Free it with perdiem_runtime_free. */
PERDIEM_API perdiem_code perdiem_runtime_create(const perdiem_runtime_options* options,
                                                perdiem_runtime** out, char** error_message);
PERDIEM_API void perdiem_runtime_free(perdiem_runtime* runtime);

/* Runs use the runtime's own empty wallet, which pays only for free providers (sim,
 * local servers); paying from an owner's wallet through the C API comes with the SDK issue.
 * Run a plan to completion. Stores the result in *out (even when the agent failed: read
 * it with perdiem_result_code) and returns the result's code. Returns
 * PERDIEM_CODE_INVALID_ARGUMENT with *out NULL only when an argument is NULL. */
PERDIEM_API perdiem_code perdiem_run_file(perdiem_runtime* runtime, const char* path,
                                          const perdiem_run_options* options, perdiem_result** out);
PERDIEM_API perdiem_code perdiem_run_string(perdiem_runtime* runtime, const char* source,
                                            const char* chunk_name,
                                            const perdiem_run_options* options,
                                            perdiem_result** out);

PERDIEM_API perdiem_code perdiem_result_code(const perdiem_result* result);
/* The plan's return value: a string result as is, anything else as JSON. "" on error. */
PERDIEM_API const char* perdiem_result_text(const perdiem_result* result);
/* The plan's return value as JSON ("null" when it returned nothing). "" on error. */
PERDIEM_API const char* perdiem_result_json(const perdiem_result* result);
/* What went wrong and what to do; "" when the run succeeded. */
PERDIEM_API const char* perdiem_result_error_message(const perdiem_result* result);
/* The providers that served the run, comma-separated, in order of first use. */
PERDIEM_API const char* perdiem_result_providers(const perdiem_result* result);
PERDIEM_API int perdiem_result_model_calls(const perdiem_result* result);
/* What the wallet charged for the run, in nano-USD (1 USD = 1000000000). */
PERDIEM_API int64_t perdiem_result_cost_nanos(const perdiem_result* result);
/* The run's id in the wallet's receipts and ledger. */
PERDIEM_API const char* perdiem_result_run_id(const perdiem_result* result);
PERDIEM_API void perdiem_result_free(perdiem_result* result);

/* ---- Configuration builders (the ABI-stable way to configure) ---------------------- */

typedef struct perdiem_config perdiem_config;         /* builds a runtime */
typedef struct perdiem_run_config perdiem_run_config; /* builds one run's limits */
typedef struct perdiem_step_event perdiem_step_event;
typedef struct perdiem_run_event perdiem_run_event;
typedef struct perdiem_host_request perdiem_host_request;
typedef struct perdiem_host_reply perdiem_host_reply;

/* Receives every model call's steps as they start and finish. `event` and every string
 * read from it are valid only during the call: copy what you keep. Called on the thread
 * running the plan, concurrently for different runs (and for the calls of one
 * model.chat_many), so it must synchronise what it touches. The run waits for it:
 * return quickly. It must not free the runtime that calls it. */
typedef void (*perdiem_step_callback)(const perdiem_step_event* event, void* user_data);

/* Receives every run's start and end, sub-agents' (agent.spawn) included; a sub-agent's
 * end comes before its parent's, so started minus finished is the agents running.
 * `event` and its strings are valid only during the call. A run's "started" is reported
 * on the thread that runs it, its "finished" there or on a worker thread of the
 * runtime's: synchronise what it touches, return quickly, and do not free the runtime. */
typedef void (*perdiem_run_callback)(const perdiem_run_event* event, void* user_data);

/* Answers one chat request of a plan, in place of an HTTP provider. Fill `reply` and
 * return PERDIEM_CODE_OK, or fail the call: return an error code, or (the same thing)
 * `return perdiem_host_reply_set_error(reply, code, message);`. The call fails when the
 * callback returns an error code or has called perdiem_host_reply_set_error; the
 * returned code wins when both say something. `request`, `reply` and their strings are
 * valid only during the call. WARNING: called concurrently from every run of the runtime,
 * each on the thread running that run: it must be thread-safe. */
typedef perdiem_code (*perdiem_host_chat_fn)(const perdiem_host_request* request,
                                             perdiem_host_reply* reply, void* user_data);

/* A runtime's settings; defaults as perdiem_runtime_options_default (environment used,
 * sim seed 1, default_max_tokens 1024). NULL when out of memory. The runtime copies what
 * it needs: the config may be changed, reused or freed once perdiem_runtime_create_with
 * returns. Setters copy their strings and return PERDIEM_CODE_INVALID_ARGUMENT when
 * `config` is NULL or a value is out of range. */
PERDIEM_API perdiem_config* perdiem_config_new(void);
PERDIEM_API void perdiem_config_free(perdiem_config* config);
/* NULL or "": unset (the environment, then the sim provider). */
PERDIEM_API perdiem_code perdiem_config_set_provider(perdiem_config* config, const char* provider);
PERDIEM_API perdiem_code perdiem_config_set_base_url(perdiem_config* config, const char* base_url);
PERDIEM_API perdiem_code perdiem_config_set_model(perdiem_config* config, const char* model);
PERDIEM_API perdiem_code perdiem_config_set_use_environment(perdiem_config* config,
                                                            int use_environment);
PERDIEM_API perdiem_code perdiem_config_set_sim_seed(perdiem_config* config, uint64_t seed);
/* Sent as max_tokens when a call names none; at least 1. */
PERDIEM_API perdiem_code perdiem_config_set_default_max_tokens(perdiem_config* config,
                                                               int max_tokens);
/* memory.db's path; NULL or "": a temporary store that lasts as long as the runtime. */
PERDIEM_API perdiem_code perdiem_config_set_memory_path(perdiem_config* config, const char* path);
/* NULL callback: no step events. `user_data` must stay valid until every runtime created
 * from this config has been freed (perdiem_runtime_free returns). */
PERDIEM_API perdiem_code perdiem_config_set_step_callback(perdiem_config* config,
                                                          perdiem_step_callback callback,
                                                          void* user_data);
/* NULL callback: no run events. `user_data` must stay valid until every runtime created
 * from this config has been freed. */
PERDIEM_API perdiem_code perdiem_config_set_run_callback(perdiem_config* config,
                                                         perdiem_run_callback callback,
                                                         void* user_data);
/* Nonzero: plain model.chat answers are streamed to the step callback too, as "delta"
 * events (model.stream's always are). Default 0. */
PERDIEM_API perdiem_code perdiem_config_set_stream_chat(perdiem_config* config, int stream_chat);
/* Event-loop threads that background runs (perdiem_run_start_*) share: each run is an
 * agent on one of them, and a model call in flight or a sleep holds no thread. 0 (the
 * default): one per core. */
PERDIEM_API perdiem_code perdiem_config_set_scheduler_threads(perdiem_config* config,
                                                              unsigned threads);
/* Every model.chat goes to `chat` under the provider name `name` (NULL: "host"), metered
 * like any provider and free; the config's provider is then ignored except for its model,
 * the default for calls that name none. NULL `chat`: back to an HTTP or sim provider.
 * `user_data` must stay valid until every runtime created from this config is freed. */
PERDIEM_API perdiem_code perdiem_config_set_host_provider(perdiem_config* config, const char* name,
                                                          perdiem_host_chat_fn chat,
                                                          void* user_data);

/* ---- Host tools ---------------------------------------------------------------------- */

typedef struct perdiem_tool_reply perdiem_tool_reply;

/* Runs one call of a host tool. `arguments_json` is the call's arguments, already
 * validated against the tool's schema. Set the result with perdiem_tool_reply_set_result
 * (plain text, or JSON text, which a plan receives as a value) and return
 * PERDIEM_CODE_OK, or fail the call (`return perdiem_tool_reply_set_error(...)`): the
 * model sees the message and may correct itself. `reply` is valid only during the call.
 * WARNING: called concurrently from every run, and several at once within one run (a
 * model reply asking for several tools): it must be thread-safe. */
typedef perdiem_code (*perdiem_tool_fn)(const char* arguments_json, perdiem_tool_reply* reply,
                                        void* user_data);

/* Adds a tool every run's plan (tool.call) and model (model.chat's tools=) may call.
 * `name`: segments of [A-Za-z0-9_-] joined by '.', at most 64 characters ("orders.lookup").
 * `parameters_json`: a JSON Schema for the arguments object (NULL or "": none).
 * `price_nanos` >= 0 makes each call paid through the wallet with a receipt; < 0: free.
 * Checked when the runtime is created (a bad name or schema fails perdiem_runtime_create_with
 * with PERDIEM_CODE_INVALID_ARGUMENT and a message). `user_data` must stay valid until
 * every runtime created from this config is freed. */
PERDIEM_API perdiem_code perdiem_config_add_tool(perdiem_config* config, const char* name,
                                                 const char* description,
                                                 const char* parameters_json,
                                                 int64_t price_nanos, perdiem_tool_fn fn,
                                                 void* user_data);
/* Copies `result`. PERDIEM_CODE_INVALID_ARGUMENT for a NULL reply or result. */
PERDIEM_API perdiem_code perdiem_tool_reply_set_result(perdiem_tool_reply* reply,
                                                       const char* result);
/* Fails the call with `code` (an error code; anything else counts as
 * PERDIEM_CODE_TOOL) and `message` (NULL: a generic one); returns the code. */
PERDIEM_API perdiem_code perdiem_tool_reply_set_error(perdiem_tool_reply* reply, perdiem_code code,
                                                      const char* message);

/* perdiem_runtime_create with a builder; NULL config: the defaults. */
PERDIEM_API perdiem_code perdiem_runtime_create_with(const perdiem_config* config,
                                                     perdiem_runtime** out, char** error_message);

/* One run's limits. Defaults: no args, 64 MiB of Lua heap, 100000000 Lua instructions,
 * no timeout, no step limit, no budgets. NULL when out of memory. */
PERDIEM_API perdiem_run_config* perdiem_run_config_new(void);
PERDIEM_API void perdiem_run_config_free(perdiem_run_config* config);
/* Appends one of the plan's agent.args (copied); NULL is refused. */
PERDIEM_API perdiem_code perdiem_run_config_add_arg(perdiem_run_config* config, const char* arg);
/* 0: the default, 64 MiB. */
PERDIEM_API perdiem_code perdiem_run_config_set_memory_limit_bytes(perdiem_run_config* config,
                                                                   size_t bytes);
/* Lua VM instructions. WARNING: 0 means no limit; with no timeout either, only
 * perdiem_run_cancel (or freeing the runtime) stops a plan that loops. */
PERDIEM_API perdiem_code perdiem_run_config_set_instruction_limit(perdiem_run_config* config,
                                                                  uint64_t instructions);
/* A wall-clock deadline; 0: none; negative is refused; over ten years counts as ten. */
PERDIEM_API perdiem_code perdiem_run_config_set_timeout_ms(perdiem_run_config* config,
                                                           int64_t timeout_ms);
/* Model calls the run may make; 0: no limit. */
PERDIEM_API perdiem_code perdiem_run_config_set_max_steps(perdiem_run_config* config,
                                                          uint64_t max_steps);
/* In nano-USD; negative: no limit (the default). */
PERDIEM_API perdiem_code perdiem_run_config_set_budget_nanos(perdiem_run_config* config,
                                                             int64_t budget_nanos);
PERDIEM_API perdiem_code perdiem_run_config_set_max_call_nanos(perdiem_run_config* config,
                                                               int64_t max_call_nanos);

/* ---- Background runs --------------------------------------------------------------- */

typedef struct perdiem_run perdiem_run;

/* Starts a plan as an agent on the runtime's scheduler (its event-loop threads, shared by
 * every background run) and returns at once: stores a handle in *out and
 * returns PERDIEM_CODE_OK, or stores NULL and returns PERDIEM_CODE_INVALID_ARGUMENT (a
 * NULL argument) or PERDIEM_CODE_INTERNAL (out of memory). Failures of the run itself
 * (a missing file, a script error) are in its result. NULL config: the defaults.
 * The config may be freed once the call returns. */
PERDIEM_API perdiem_code perdiem_run_start_file(perdiem_runtime* runtime, const char* path,
                                                const perdiem_run_config* config,
                                                perdiem_run** out);
/* `chunk_name` (NULL: "plan") appears in the plan's tracebacks. */
PERDIEM_API perdiem_code perdiem_run_start_string(perdiem_runtime* runtime, const char* source,
                                                  const char* chunk_name,
                                                  const perdiem_run_config* config,
                                                  perdiem_run** out);

/* Thread-safety: every perdiem_run_* call but perdiem_run_free may be made from any thread,
 * concurrently, on the same handle. A run may outlive its handle and its handle may
 * outlive the runtime: perdiem_runtime_free cancels the runs still going and waits for
 * them, so afterwards they are finished (PERDIEM_CODE_CANCELLED unless they were done). */

/* The id its result, receipts and step events carry ("run-" + 16 hex digits); known at once. */
PERDIEM_API const char* perdiem_run_id(const perdiem_run* run);
/* 1 once the run has finished, else 0. */
PERDIEM_API int perdiem_run_done(const perdiem_run* run);
/* Blocks until the run has finished; stores a new result in *out (free it with
 * perdiem_result_free; every call gives its own copy) and returns the result's code.
 * PERDIEM_CODE_INVALID_ARGUMENT with *out NULL when an argument is NULL. */
PERDIEM_API perdiem_code perdiem_run_wait(perdiem_run* run, perdiem_result** out);
/* Waits at most `timeout_ms` (0: just look; over ten years counts as ten). Finished:
 * *finished = 1, *out = a new result, returns the result's code. Still running:
 * *finished = 0, *out = NULL, returns PERDIEM_CODE_OK. Test *finished, not the code: OK
 * alone does not mean done.
 * PERDIEM_CODE_INVALID_ARGUMENT (and *out NULL, *finished 0) for a NULL argument or a
 * negative timeout. */
PERDIEM_API perdiem_code perdiem_run_wait_for(perdiem_run* run, int64_t timeout_ms,
                                              perdiem_result** out, int* finished);
/* Asks the run to stop at its next instruction, model call or sleep; it then ends with
 * PERDIEM_CODE_CANCELLED. A call in flight is settled or released as usual. Returns at
 * once; cancelling a finished run does nothing. */
PERDIEM_API void perdiem_run_cancel(perdiem_run* run);
/* Frees the handle. WARNING: this does not stop the run; cancel it first if it should
 * stop. It goes on until it finishes or its runtime is freed. */
PERDIEM_API void perdiem_run_free(perdiem_run* run);

/* ---- Step events (valid only inside a perdiem_step_callback) ----------------------- */

PERDIEM_API const char* perdiem_step_event_run_id(const perdiem_step_event* event);
/* 1, 2, ... within the run; one step per logical call (retries included). */
PERDIEM_API int64_t perdiem_step_event_step(const perdiem_step_event* event);
/* "chat", "embed" or "tool" (a tool call: model is the tool's name). */
PERDIEM_API const char* perdiem_step_event_kind(const perdiem_step_event* event);
/* "started" (before the call) or "finished" (after it); a step's started comes first.
 * Between them, a chat step whose answer is streamed (model.stream, or
 * perdiem_config_set_stream_chat) reports "delta" events: one per piece of text, in order.
 * Callbacks should ignore phases they do not know: new ones may be added. */
PERDIEM_API const char* perdiem_step_event_phase(const perdiem_step_event* event);
/* Who was asked (started) or who answered (finished), and the model. */
PERDIEM_API const char* perdiem_step_event_provider(const perdiem_step_event* event);
PERDIEM_API const char* perdiem_step_event_model(const perdiem_step_event* event);
/* The request as sent, OpenAI-style JSON; API keys are never part of it. */
PERDIEM_API const char* perdiem_step_event_request_json(const perdiem_step_event* event);
/* Finished chat steps: the answer's text; "" otherwise. */
PERDIEM_API const char* perdiem_step_event_response_text(const perdiem_step_event* event);
/* Finished steps whose call failed: its code and message; PERDIEM_CODE_OK and "" else. */
PERDIEM_API perdiem_code perdiem_step_event_error_code(const perdiem_step_event* event);
PERDIEM_API const char* perdiem_step_event_error_message(const perdiem_step_event* event);
/* Finished steps: tokens, what the wallet charged (nano-USD), the receipt ("" when
 * none) and the call's wall time including retries; 0 and "" on started steps. */
PERDIEM_API int64_t perdiem_step_event_input_tokens(const perdiem_step_event* event);
PERDIEM_API int64_t perdiem_step_event_output_tokens(const perdiem_step_event* event);
PERDIEM_API int64_t perdiem_step_event_cost_nanos(const perdiem_step_event* event);
PERDIEM_API const char* perdiem_step_event_receipt_id(const perdiem_step_event* event);
PERDIEM_API int64_t perdiem_step_event_latency_ms(const perdiem_step_event* event);
/* "delta" steps: the next piece of the answer's text; the pieces of a step concatenate to
 * its finished response_text when the call succeeds. "" for other phases. */
PERDIEM_API const char* perdiem_step_event_delta_text(const perdiem_step_event* event);

/* ---- Run events (valid only inside a perdiem_run_callback) ------------------------- */

PERDIEM_API const char* perdiem_run_event_run_id(const perdiem_run_event* event);
/* "started" or "finished"; callbacks should ignore phases they do not know. */
PERDIEM_API const char* perdiem_run_event_phase(const perdiem_run_event* event);
/* 0: a run the app started; 1: its sub-agents; 2: theirs, ... */
PERDIEM_API int perdiem_run_event_depth(const perdiem_run_event* event);
/* The run that spawned this one; "" for a run the app started. */
PERDIEM_API const char* perdiem_run_event_parent_run_id(const perdiem_run_event* event);
/* Finished runs that failed: the code (PERDIEM_CODE_CANCELLED when cancelled) and
 * message; PERDIEM_CODE_OK and "" otherwise. */
PERDIEM_API perdiem_code perdiem_run_event_error_code(const perdiem_run_event* event);
PERDIEM_API const char* perdiem_run_event_error_message(const perdiem_run_event* event);
/* Finished runs: what the run cost in nano-USD, its sub-agents' spending included. */
PERDIEM_API int64_t perdiem_run_event_cost_nanos(const perdiem_run_event* event);

/* ---- Host provider requests and replies (valid only inside a perdiem_host_chat_fn) -- */

/* What the plan asked for; "" when it named no model. */
PERDIEM_API const char* perdiem_host_request_model(const perdiem_host_request* request);
/* Always set: the wallet's reservation bounds the bill with it. */
PERDIEM_API int perdiem_host_request_max_tokens(const perdiem_host_request* request);
PERDIEM_API size_t perdiem_host_request_message_count(const perdiem_host_request* request);
/* "system", "user" or "assistant", and the text; "" when `index` is out of range. */
PERDIEM_API const char* perdiem_host_request_message_role(const perdiem_host_request* request,
                                                          size_t index);
PERDIEM_API const char* perdiem_host_request_message_content(const perdiem_host_request* request,
                                                             size_t index);
/* 1 and the temperature in *temperature when the plan set one, else 0. */
PERDIEM_API int perdiem_host_request_temperature(const perdiem_host_request* request,
                                                 double* temperature);

/* Setters copy their strings; PERDIEM_CODE_INVALID_ARGUMENT for a NULL reply or string,
 * PERDIEM_CODE_INTERNAL when out of memory (perdiem_host_reply_set_error excepted). */
PERDIEM_API perdiem_code perdiem_host_reply_set_content(perdiem_host_reply* reply,
                                                        const char* content);
/* The model that answered; unset: the requested one. */
PERDIEM_API perdiem_code perdiem_host_reply_set_model(perdiem_host_reply* reply, const char* model);
/* Unset: "stop". */
PERDIEM_API perdiem_code perdiem_host_reply_set_finish_reason(perdiem_host_reply* reply,
                                                              const char* finish_reason);
/* What the wallet charges by, when the host provider is priced; negative is refused. */
PERDIEM_API perdiem_code perdiem_host_reply_set_tokens(perdiem_host_reply* reply,
                                                       int64_t input_tokens, int64_t output_tokens);
/* Fails the call with `code` and `message` (NULL: a generic one) and returns `code`, so a
 * callback may `return perdiem_host_reply_set_error(...)`. A code that is not an error
 * (PERDIEM_CODE_OK, unknown values) is recorded, and returned, as PERDIEM_CODE_INTERNAL. */
PERDIEM_API perdiem_code perdiem_host_reply_set_error(perdiem_host_reply* reply, perdiem_code code,
                                                      const char* message);
/* Nonzero: the failure is transient; PROVIDER, RATE_LIMITED and TIMEOUT failures marked so
 * are retried with backoff like an HTTP provider's. */
PERDIEM_API perdiem_code perdiem_host_reply_set_retryable(perdiem_host_reply* reply, int retryable);

#ifdef __cplusplus
}
#endif

#endif /* PERDIEM_H */
