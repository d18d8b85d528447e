#!/usr/bin/env python3
"""The C API from Python's ctypes, without perdiem.h: proof that the ABI is usable by a
language that only sees the shared library's symbols.

    ctypes_test.py /path/to/libperdiem.so

Declares each signature by hand (as a Python, Rust or Go binding would), creates a runtime
on the sim provider, runs plans, reads result text, JSON, cost, run id and error codes,
checks the failing paths, and frees everything. Exits nonzero on the first failed check.
"""
import ctypes
import re
import sys
import time
from ctypes import (POINTER, Structure, byref, c_char_p, c_int, c_int64, c_size_t,
                    c_uint64, c_void_p)

# perdiem_code values (perdiem.h: never renumbered once released).
OK, INVALID_ARGUMENT, CONFIG, SCRIPT, SANDBOX, LIMIT = 0, 1, 3, 4, 5, 6


class RuntimeOptions(Structure):  # perdiem_runtime_options
    _fields_ = [("provider", c_char_p), ("base_url", c_char_p), ("model", c_char_p),
                ("use_environment", c_int), ("sim_seed", c_uint64)]


class RunOptions(Structure):  # perdiem_run_options
    _fields_ = [("args", POINTER(c_char_p)), ("arg_count", c_size_t),
                ("memory_limit_bytes", c_size_t), ("budget_nanos", c_int64),
                ("max_call_nanos", c_int64)]


def bind(lib):
    """Declares the signatures used here. Handles are opaque: c_void_p."""
    def fn(name, restype, *argtypes):
        f = getattr(lib, name)
        f.restype, f.argtypes = restype, list(argtypes)
        return f
    # Owned strings (char** out-parameters) are read as c_void_p so that Python does not
    # copy them away before perdiem_string_free can release the original.
    return {
        "version": fn("perdiem_version", c_char_p),
        "code_name": fn("perdiem_code_name", c_char_p, c_int),
        "string_free": fn("perdiem_string_free", None, c_void_p),
        "runtime_options_default": fn("perdiem_runtime_options_default", RuntimeOptions),
        "run_options_default": fn("perdiem_run_options_default", RunOptions),
        "runtime_create": fn("perdiem_runtime_create", c_int, POINTER(RuntimeOptions),
                             POINTER(c_void_p), POINTER(c_void_p)),
        "runtime_free": fn("perdiem_runtime_free", None, c_void_p),
        "run_string": fn("perdiem_run_string", c_int, c_void_p, c_char_p, c_char_p,
                         POINTER(RunOptions), POINTER(c_void_p)),
        "run_file": fn("perdiem_run_file", c_int, c_void_p, c_char_p, POINTER(RunOptions),
                       POINTER(c_void_p)),
        "result_code": fn("perdiem_result_code", c_int, c_void_p),
        "result_text": fn("perdiem_result_text", c_char_p, c_void_p),
        "result_json": fn("perdiem_result_json", c_char_p, c_void_p),
        "result_error_message": fn("perdiem_result_error_message", c_char_p, c_void_p),
        "result_providers": fn("perdiem_result_providers", c_char_p, c_void_p),
        "result_model_calls": fn("perdiem_result_model_calls", c_int, c_void_p),
        "result_cost_nanos": fn("perdiem_result_cost_nanos", c_int64, c_void_p),
        "result_run_id": fn("perdiem_result_run_id", c_char_p, c_void_p),
        "result_free": fn("perdiem_result_free", None, c_void_p),
    }


failures = 0


def check(condition, what):
    global failures
    if not condition:
        failures += 1
        print(f"check failed: {what}", file=sys.stderr)


def run_string(api, runtime, source, name, options=None):
    """Runs a plan; returns (code, result handle). The caller frees the result."""
    result = c_void_p()
    code = api["run_string"](runtime, source.encode(), name.encode(),
                             byref(options) if options is not None else None, byref(result))
    return code, result


def main():
    api = bind(ctypes.CDLL(sys.argv[1]))
    check(api["version"]().decode().count(".") == 2, "version looks like x.y.z")
    check(api["code_name"](SCRIPT) == b"script", "code_name(SCRIPT)")

    options = api["runtime_options_default"]()
    options.provider, options.use_environment = b"sim", 0
    runtime, error = c_void_p(), c_void_p()
    code = api["runtime_create"](byref(options), byref(runtime), byref(error))
    if code != OK or not runtime:
        message = ctypes.string_at(error).decode() if error else "?"
        api["string_free"](error)
        sys.exit(f"runtime_create failed: {code} {message}")

    # A plan with arguments that calls the model once.
    args = (c_char_p * 2)(b"hello from python", b"second")
    run = api["run_options_default"]()
    run.args, run.arg_count = ctypes.cast(args, POINTER(c_char_p)), 2
    run.budget_nanos = 10_000_000  # one cent, in nano-USD
    code, result = run_string(
        api, runtime,
        "local r = model.chat{messages={{role='user', content=agent.args[1]}}}\n"
        "return r.content\n", "from_python.lua", run)
    check(code == OK, f"run code {code}")
    check(api["result_code"](result) == OK, "result code")
    text = api["result_text"](result).decode()
    check(text == "sim: I received your message: hello from python", f"text {text!r}")
    check(api["result_json"](result).decode().startswith('"sim:'), "json is a JSON string")
    check(api["result_providers"](result) == b"sim", "providers")
    check(api["result_model_calls"](result) == 1, "one model call")
    check(api["result_cost_nanos"](result) == 0, "the sim is free")
    run_id = api["result_run_id"](result).decode()
    # Time-ordered: 12 hex digits of milliseconds since the epoch, then 64 random bits.
    check(re.fullmatch(r"run-[0-9a-f]{28}", run_id) is not None, f"run id {run_id!r}")
    started_ms = int(run_id[4:16], 16)
    check(abs(started_ms - time.time() * 1000) < 600_000, f"run id {run_id!r} names its start")
    check(api["result_error_message"](result) == b"", "no error message")
    api["result_free"](result)

    # A plan that fails: the code says why and the message names the line.
    code, result = run_string(api, runtime, "local x = nil\nreturn x.field\n", "broken.lua")
    check(code == SCRIPT, f"broken plan code {code}")
    check(api["result_code"](result) == SCRIPT, "broken result code")
    check(b"broken.lua:2" in api["result_error_message"](result), "message names the line")
    check(api["result_text"](result) == b"", "no text on error")
    api["result_free"](result)

    # A plan the sandbox stops, and one over its memory limit.
    code, result = run_string(api, runtime, "return io.open('/etc/passwd')", "io.lua")
    check(code == SANDBOX, f"sandbox code {code}")
    api["result_free"](result)
    small = api["run_options_default"]()
    small.memory_limit_bytes = 1 << 20
    code, result = run_string(api, runtime, "local t = {} for i = 1, 1e8 do t[i] = i end",
                              "hog.lua", small)
    check(code == LIMIT, f"memory limit code {code}")
    api["result_free"](result)

    # A missing plan file, and a NULL argument (refused, with no result to free).
    result = c_void_p()
    code = api["run_file"](runtime, b"/nonexistent/plan.lua", None, byref(result))
    check(code != OK and api["result_code"](result) == code, f"missing file code {code}")
    api["result_free"](result)
    result = c_void_p()
    code = api["run_string"](runtime, None, b"x", None, byref(result))
    check(code == INVALID_ARGUMENT and not result, "NULL source refused")

    # Creation fails with a message the caller owns and frees.
    options.provider = b"nosuch"
    bad, error = c_void_p(), c_void_p()
    code = api["runtime_create"](byref(options), byref(bad), byref(error))
    check(code == CONFIG and not bad, f"unknown provider code {code}")
    check(error and b"nosuch" in ctypes.string_at(error), "message names the provider")
    api["string_free"](error)

    api["runtime_free"](runtime)
    if failures:
        sys.exit(f"{failures} check(s) failed")
    print("ctypes: all checks passed")


if __name__ == "__main__":
    main()
