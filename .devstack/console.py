"""What `make run` shows after its banner: one line per request and every error.

    console.py [--once] API_LOG [POLLER_LOG]

With --once it shows what the logs hold now and exits (tests/observability.rs runs it so).

Follows the logs as they grow (the full output stays in them) and prints:
- a function's request line: time, status, route, latency, and whether it was a cold start;
- a function's WARN and ERROR lines, with their fields;
- cargo lambda watch's WARN and ERROR lines, and the errors of a function that fails to
  build, to start (its `main` returns the cause) or panics;
- the stream poller's WARN and ERROR lines (an email it retries or dead-letters).
Everything else (cargo lambda watch's INFO lines, each instance's environment among them, the
EMF metrics records, audit lines) stays in the logs only.
"""

import json
import os
import re
import sys
import time

# Printed by every function instance: cargo lambda watch sets AWS_LAMBDA_MAX_CONCURRENCY, for
# Lambda Managed Instances, which these functions do not use.
EMULATOR_NOTICES = ("AWS_LAMBDA_MAX_CONCURRENCY is set",)
# cargo lambda watch's ERROR lines that tell a person nothing:
WATCH_NOISE = (
    # it registers a file watcher per instance even with --ignore-changes, and says so when
    # that passes the machine's inotify limit: nothing for a stack that never reloads;
    "Native fs watcher error",
    "notify watch() error",
    # an instance stopped (at Ctrl-C), which watchexec's documentation calls ignorable;
    "waiting on process group",
    # a 5xx answer, which the function's own request line already shows.
    "response failed classification",
)
# What cargo lambda watch logs for a path that no function's route matches.
NO_ROUTE = "the default function route is disabled"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LEVEL = re.compile(r"^\s*(?:\S+\s+)?(WARN|ERROR)\s")
# cargo's compile errors, a function's `main` returning an error, a panic.
FUNCTION_ERROR = re.compile(r"^(error(\[E\d+\])?:|Error: |thread '.*' panicked)")


def now():
    return time.strftime("%H:%M:%S")


def request_line(record):
    cold = "  cold start" if record.get("cold_start") else ""
    latency = record.get("latency_ms")
    latency = f"{latency:7.1f} ms" if isinstance(latency, (int, float)) else "      ? ms"
    return f"{now()}  {record.get('status', '?')}  {latency}  {record.get('route', '?')}{cold}"


def problem_line(source, record):
    fields = " ".join(
        f"{key}={value}" for key, value in record.items() if key not in ("level", "message")
    )
    return f"{now()}  {record['level']:5}  {source}: {record.get('message', '')}  {fields}".rstrip()


def shown(source, line):
    """The console's line for one log line, or None."""
    line = ANSI.sub("", line.rstrip("\n"))
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        if record.get("message") == "request" and "route" in record:
            return request_line(record)
        if record.get("level") in ("WARN", "ERROR"):
            if str(record.get("message", "")).startswith(EMULATOR_NOTICES):
                return None
            return problem_line(source, record)
        return None
    if any(noise in line for noise in WATCH_NOISE):
        return None
    if NO_ROUTE in line:
        return f"{now()}  404             no route matches the path (cargo lambda watch)"
    if LEVEL.match(line) or FUNCTION_ERROR.match(line):
        return f"{now()}  {source}: {line.strip()}"
    return None


def follow(paths, once=False):
    sources = {path: ("api" if index == 0 else "poller") for index, path in enumerate(paths)}
    files = {}
    pending = {path: "" for path in paths}
    while True:
        idle = True
        for path in paths:
            if path not in files:
                if not os.path.exists(path):
                    continue
                files[path] = open(path, encoding="utf-8", errors="replace")
            chunk = files[path].read()
            if not chunk:
                continue
            idle = False
            lines = (pending[path] + chunk).split("\n")
            pending[path] = lines.pop()
            for line in lines:
                text = shown(sources[path], line)
                if text:
                    print(text, flush=True)
        if idle:
            if once:
                return
            time.sleep(0.1)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    once = arguments[:1] == ["--once"]
    try:
        follow(arguments[1:] if once else arguments, once)
    except KeyboardInterrupt:
        pass
