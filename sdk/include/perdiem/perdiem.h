/* perdiem C API: opaque handles, error codes plus messages.
 *
 * Every fallible call returns a perdiem_code (PERDIEM_CODE_OK is 0). Where a call takes
 * `char** error_message`, a failure stores a message there that the caller frees with
 * perdiem_string_free (pass NULL to ignore it). Strings returned as `const char*` are
 * owned by the object they came from and live as long as it does.
 *
 * Thread-safety: a perdiem_runtime may be used from several threads at once; a
 * perdiem_result belongs to one thread at a time. No C++ exception crosses this API. */
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

typedef struct perdiem_runtime_options {
  const char* provider; /* NULL: environment, then the sim provider */
  const char* base_url; /* any OpenAI-compatible server */
  const char* model;    /* the model for calls that name none */
  int use_environment;  /* nonzero: unset fields come from PERDIEM_* variables */
  uint64_t sim_seed;
} perdiem_runtime_options;

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
                                          const perdiem_run_options* options,
                                          perdiem_result** out);
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

#ifdef __cplusplus
}
#endif

#endif /* PERDIEM_H */
