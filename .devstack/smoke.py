#!/usr/bin/env python3
"""The smoke set: `make smoke API=<base url>`, run by the pipeline after each deploy and by
`make test` against the local stack. It creates no data and needs no credentials: the public
documents are served, bad input is a clear 422, a protected route wants a token, a wrong login
is a 401 and not a 500, and an unknown route is a 404. Python's standard library only, so a CI
runner needs nothing installed.
"""

import json
import sys
import urllib.error
import urllib.request
import uuid


def call(base, method, path, body=None, headers=None):
    """The status, headers and body (JSON when it is) of one request."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answered, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answered, raw = error.code, error.headers, error.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, answered, parsed


def checks(base):
    """(what, passed, detail) of every check."""
    status, _, keys = call(base, "GET", "/.well-known/jwks.json")
    yield (
        "the JWK set is served",
        status == 200 and bool(keys.get("keys")) and all(k.get("kty") == "OKP" for k in keys["keys"]),
        status,
    )
    status, _, document = call(base, "GET", "/openapi.json")
    yield (
        "the OpenAPI document is served",
        status == 200 and str(document.get("openapi", "")).startswith("3.1"),
        status,
    )
    status, headers, problem = call(base, "POST", "/users", {"email": "not an address", "name": ""})
    fields = sorted(error.get("field") for error in (problem or {}).get("errors", []))
    yield (
        "a malformed registration is a 422 naming every field",
        status == 422
        and headers.get("content-type", "").startswith("application/problem+json")
        and fields == ["email", "name"],
        (status, fields),
    )
    status, headers, _ = call(base, "GET", f"/users/{uuid7()}")
    yield (
        "a protected route without a token is a 401 with a Bearer challenge",
        status == 401 and headers.get("www-authenticate", "").startswith("Bearer"),
        status,
    )
    nobody = f"smoke-{uuid.uuid4().hex}@example.invalid"
    status, _, _ = call(base, "POST", "/login", {"email": nobody, "password": "not the password"})
    yield ("a wrong login is a 401, not a 500", status == 401, status)
    status, _, _ = call(base, "GET", f"/no-such-route-{uuid.uuid4().hex}")
    yield ("an unknown route is a 404", status == 404, status)


def uuid7():
    """A well-formed id nobody holds: a UUIDv7 of the epoch."""
    return "00000000-0000-7000-8000-" + uuid.uuid4().hex[:12]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: smoke.py <base url of the API>")
    base = sys.argv[1].rstrip("/")
    failed = 0
    try:
        for what, passed, detail in checks(base):
            print(f"{'ok  ' if passed else 'FAIL'} {what} ({detail})")
            failed += not passed
    except urllib.error.URLError as error:
        sys.exit(f"smoke: cannot reach {base}: {error.reason}")
    if failed:
        sys.exit(f"{failed} smoke check(s) failed against {base}")
    print(f"smoke: every check passed against {base}")


if __name__ == "__main__":
    main()
