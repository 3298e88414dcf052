"""Validates events against their JSON Schemas in docs/events/ (API.md, "Events"): reads one
event per line on stdin (as EventBridge delivers it: `source`, `detail-type`, `detail`), and
exits 1 naming every event that has no schema or breaks its schema. The end-to-end tests run
it on what the local bus delivered."""

import json
import pathlib
import sys

from jsonschema import Draft202012Validator, FormatChecker

schemas = pathlib.Path(__file__).resolve().parent.parent / "docs" / "events"
validators = {}
failures = 0
count = 0
for line in sys.stdin:
    if not line.strip():
        continue
    count += 1
    event = json.loads(line)
    detail_type = event.get("detail-type")
    path = schemas / f"{detail_type}.json"
    if event.get("source") != "user-service" or not path.is_file():
        failures += 1
        sys.stdout.write(f"no schema for source {event.get('source')!r}, detail-type {detail_type!r}\n")
        continue
    if detail_type not in validators:
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        validators[detail_type] = Draft202012Validator(schema, format_checker=FormatChecker())
    for error in validators[detail_type].iter_errors(event.get("detail")):
        failures += 1
        where = "/".join(str(part) for part in error.absolute_path) or "(detail)"
        sys.stdout.write(f"{detail_type}: {where}: {error.message}\n")
sys.stdout.write(f"{count} event(s), {failures} failure(s)\n")
sys.exit(1 if failures else 0)
