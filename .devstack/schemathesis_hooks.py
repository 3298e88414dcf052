"""Schemathesis hooks for `make test`.

cargo-lambda's local emulator turns a JSON request body into a string before it invokes any
function, and answers its own plain-text 500 when the bytes are not UTF-8. API Gateway does not
(it hands the function the bytes, base64-encoded), and the service's parser answers such a body
with a 400 (unit test: a_body_that_is_not_utf8_is_a_400_not_a_failure). So only bodies the
emulator can carry are sent through it; every check on the answers stays as it is.

The run calls every route with one token, the local admin's (FUZZ_ADMIN_ID is its id): a
`DELETE /users/{id}/sessions` or `/sessions/{session_id}` that found the admin's own id (from a
listing, say) would end that token's session and leave the rest of the run with nothing but
401s, so those requests are sent for an unknown user instead.
"""

import os

import schemathesis

ADMIN_ID = os.environ.get("FUZZ_ADMIN_ID")
UNKNOWN_USER = "01900000-0000-7000-8000-000000000000"


def _utf8(value) -> bool:
    try:
        if isinstance(value, (bytes, bytearray)):
            bytes(value).decode("utf-8")
        elif isinstance(value, str):
            value.encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return False
    return True


@schemathesis.hook
def filter_body(ctx, body) -> bool:
    return _utf8(body)


@schemathesis.hook
def before_call(ctx, case, kwargs) -> None:
    parameters = case.path_parameters or {}
    ends_sessions = case.method.upper() == "DELETE" and case.path.startswith("/users/{id}/sessions")
    if ends_sessions and ADMIN_ID and parameters.get("id") == ADMIN_ID:
        parameters["id"] = UNKNOWN_USER
