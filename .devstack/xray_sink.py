"""The local stand-in for the X-Ray daemon: listens on UDP where AWS_XRAY_DAEMON_ADDRESS points
(127.0.0.1:2000) and appends every segment document the functions send, one JSON per line, to
the file it is given (.devstack/run/traces.jsonl). Datagrams follow the daemon's protocol: a
header line {"format": "json", "version": 1}, then the document. `make trace ID=...` reads the
file; the end-to-end tests assert the tree from it."""

import json
import socket
import sys

host, port = sys.argv[1].rsplit(":", 1)
out = open(sys.argv[2], "a", encoding="utf-8")
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
sink.bind((host, int(port)))
while True:
    datagram, _ = sink.recvfrom(65536)
    header, _, body = datagram.decode("utf-8", "replace").partition("\n")
    try:
        if json.loads(header).get("format") != "json":
            continue
        document = json.loads(body)
    except ValueError:
        sys.stderr.write(f"not a segment document: {datagram[:200]!r}\n")
        continue
    out.write(json.dumps(document, separators=(",", ":")) + "\n")
    out.flush()
