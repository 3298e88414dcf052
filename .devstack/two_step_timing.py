#!/usr/bin/env python3
"""`make two-step-timing`: does a right password of an account with a second factor on (403
/problems/mfa-required) take longer than a wrong one (401)? Against a running `make run`
stack: accounts with a factor on and accounts without, each tried once with a wrong password
and, with a factor on, once with the right one (a few attempts per address, well under the
lockout). Prints the median and spread of each kind, in milliseconds. Standard library only.
"""

import base64
import hmac
import statistics
import struct
import sys
import time
import uuid

from smoke import call

PASSWORD = "correct horse battery"


def mailbox_token(ses, address):
    """The reset token of the newest email to `address` in the local SES's store."""
    for _ in range(100):
        _, _, store = call(ses, "GET", "/store")
        for email in reversed(store["emails"]):
            if address in email["destination"]["to"] and "token=" in email["body"]["text"]:
                line = next(l for l in email["body"]["text"].splitlines() if "token=" in l)
                return line.split("token=", 1)[1].split()[0].strip()
        time.sleep(0.1)
    raise SystemExit(f"no reset email reached {address}")


def totp(secret, at):
    """RFC 6238's code of `secret` (base32) at `at` (what an authenticator app shows)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.digest(key, struct.pack(">Q", int(at) // 30), "sha1")
    offset = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6)


def account(api, ses, with_factor):
    """A new account with a password, and a second factor if asked: its address."""
    address = f"timing-{uuid.uuid4().hex[:12]}@example.com"
    status, _, user = call(api, "POST", "/users", {"email": address, "name": "Timing"})
    assert status == 201, (status, user)
    call(api, "POST", "/password-reset", {"email": address})
    token = mailbox_token(ses, address)
    status, _, _ = call(
        api, "POST", "/password-reset/confirm", {"token": token, "new_password": PASSWORD}
    )
    assert status == 204, status
    if with_factor:
        _, _, session = call(api, "POST", "/login", {"email": address, "password": PASSWORD})
        bearer = {"authorization": "Bearer " + session["access_token"]}
        path = f"/users/{user['id']}/mfa/totp"
        _, _, started = call(api, "POST", path, {}, bearer)
        code = totp(started["secret"], time.time())
        status, _, _ = call(api, "POST", path + "/confirm", {"code": code}, bearer)
        assert status == 200, status
    return address


def timed_login(api, address, password, expected):
    started = time.perf_counter()
    status, _, body = call(api, "POST", "/login", {"email": address, "password": password})
    elapsed = (time.perf_counter() - started) * 1000
    assert status == expected, (status, body)
    return elapsed


def main():
    api = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9000"
    ses = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8005"
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    samples = {"wrong password, factor on (401)": [], "right password, factor on (403)": [],
               "wrong password, no factor (401)": []}
    with_factor = [account(api, ses, True) for _ in range(count)]
    without = [account(api, ses, False) for _ in range(count)]
    # Warm every function first, so no cold start is timed.
    timed_login(api, without[0], "warm-up password", 401)
    for turn, (on, off) in enumerate(zip(with_factor, without)):
        # The order alternates, so neither kind always follows the other.
        kinds = [
            ("wrong password, factor on (401)", on, "wrong horse battery", 401),
            ("right password, factor on (403)", on, PASSWORD, 403),
            ("wrong password, no factor (401)", off, "wrong horse battery", 401),
        ]
        for name, address, password, expected in kinds[turn % 3 :] + kinds[: turn % 3]:
            samples[name].append(timed_login(api, address, password, expected))
    for name, times in samples.items():
        quartiles = statistics.quantiles(times, n=4)
        print(f"{name}: median {statistics.median(times):.1f} ms "
              f"(quartiles {quartiles[0]:.1f} to {quartiles[2]:.1f}, {len(times)} logins)")


if __name__ == "__main__":
    main()
