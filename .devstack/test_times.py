"""Times each test binary of a `cargo test` run from its output, passed through unchanged.

    cargo test ... 2>&1 | python3 test_times.py TIMES_FILE

Writes one `label<TAB>seconds` line per group to TIMES_FILE when the output ends: the
compile-and-link time before the first binary runs, the unit tests (every `unittests`
binary, together), the adapter tests (the `tests/` binaries of the shared crates, against
DynamoDB Local and the local SES, together), and each end-to-end binary of `tests/` on its
own. A binary's time runs from its `Running` line to the next one (or the end), so it
includes starting the process, as CI's clock does.
"""

import re
import sys
import time

RUNNING = re.compile(r"^\s+Running (\S+)(?: \((\S+)\))?")


def label(source):
    if source.startswith("unittests"):
        return "tests: unit (every crate)"
    if source.startswith("tests/"):
        return "tests: adapters (DynamoDB Local, SES)"
    return f"tests: end-to-end {source.removesuffix('.rs')}"


def main(times_file):
    totals = {}
    current = "tests: compile and link"
    started = time.monotonic()
    for line in sys.stdin:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = RUNNING.match(line)
        if match:
            now = time.monotonic()
            totals[current] = totals.get(current, 0.0) + now - started
            current, started = label(match.group(1)), now
    totals[current] = totals.get(current, 0.0) + time.monotonic() - started
    with open(times_file, "w", encoding="utf-8") as out:
        for name, seconds in totals.items():
            out.write(f"{name}\t{seconds:.1f}\n")


if __name__ == "__main__":
    main(sys.argv[1])
