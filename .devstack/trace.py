"""`make trace ID=<trace id>`: one trace of the local stack as a tree, from what the functions
sent the local X-Ray sink (.devstack/run/traces.jsonl): each segment and subsegment with its
duration and, for an AWS call, its operation, resource and status. With no ID, the traces of
the last requests, newest last."""

import json
import pathlib
import sys

path = pathlib.Path(__file__).resolve().parent / "run" / "traces.jsonl"
sent = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def flatten(document):
    """A document's nested subsegments on their own, with their trace and parent."""
    flat, pending = [], [document]
    while pending:
        current = pending.pop()
        for child in current.pop("subsegments", []):
            child.update(trace_id=current["trace_id"], parent_id=current["id"], type="subsegment")
            pending.append(child)
        flat.append(current)
    return flat


documents = [flat for document in sent for flat in flatten(document)]
wanted = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None

if not wanted:
    roots = {}
    for document in documents:
        if "parent_id" not in document:
            roots[document["trace_id"]] = document
    for trace_id, document in list(roots.items())[-20:]:
        took = (document["end_time"] - document["start_time"]) * 1000
        print(f"{trace_id}  {document['name']:<28} {took:8.1f} ms")
    print("make trace ID=<one of these> shows its tree", file=sys.stderr)
    sys.exit(0)

mine = [document for document in documents if document["trace_id"] == wanted]
if not mine:
    print(f"no segment of trace {wanted} in {path}", file=sys.stderr)
    sys.exit(1)
ids = {document["id"] for document in mine}
children = {}
for document in mine:
    parent = document.get("parent_id")
    children.setdefault(parent if parent in ids else None, []).append(document)
start = min(document["start_time"] for document in mine)


def describe(document):
    took = (document["end_time"] - document["start_time"]) * 1000
    at = (document["start_time"] - start) * 1000
    kind = "segment" if document.get("type") != "subsegment" else "subsegment"
    line = f"{document['name']}  {took:.1f} ms (at +{at:.1f} ms, {kind})"
    aws = document.get("aws", {})
    if aws.get("operation"):
        line += f"  {aws['operation']}"
        if aws.get("resource"):
            line += f" {aws['resource']}"
        if aws.get("retries"):
            line += f" retries={aws['retries']}"
    status = document.get("http", {}).get("response", {}).get("status")
    if status:
        line += f"  {status}"
    if document.get("fault") or document.get("error"):
        line += "  FAILED"
    return line


def show(document, depth):
    print("  " * depth + describe(document))
    for child in sorted(children.get(document["id"], []), key=lambda d: d["start_time"]):
        show(child, depth + 1)


print(f"trace {wanted}")
for root in sorted(children.get(None, []), key=lambda d: d["start_time"]):
    show(root, 1)
