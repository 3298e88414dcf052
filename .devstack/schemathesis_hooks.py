"""Schemathesis hooks for `make test`.

cargo-lambda's local emulator turns a JSON request body into a string before it invokes any
function, and answers its own plain-text 500 when the bytes are not UTF-8. API Gateway does not
(it hands the function the bytes, base64-encoded), and the service's parser answers such a body
with a 400 (unit test: a_body_that_is_not_utf8_is_a_400_not_a_failure). So only bodies the
emulator can carry are sent through it; every check on the answers stays as it is.
"""

import schemathesis


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
