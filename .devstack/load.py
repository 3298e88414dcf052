#!/usr/bin/env python3
"""`make load`: a bounded mixed load against the local stack, and what it cost the indexes.

Many clients on loopback, each with its own keep-alive connection and its own signed-in users,
send the mix a user service sees (registrations, logins, refreshes, profile reads, orders,
order listings, admin listings) until the time or the request budget runs out. The report:
throughput, p50 and p99 per route, the errors (any answer other than the route's success; there
must be none), and, from the index writes the functions record (RECORD_INDEX_WRITES=true: one
JSON line per DynamoDB write with the units each index took and the index partition keys of
the items it put), the index write units per request kind and the busiest index partition
key's share of all index items written. Python's standard library only.

    load.py <api base> <ses base> <api log> <seconds> <max requests> <clients>
"""

import collections
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

PASSWORD = "load-test-password"

# route -> (weight in the mix, the function that serves it)
MIX = {
    "POST /users": (15, "create-user"),
    "POST /login": (8, "login"),
    "POST /token/refresh": (12, "refresh-token"),
    "GET /users/{id}": (25, "get-user"),
    "POST /users/{id}/orders": (15, "place-order"),
    "GET /users/{id}/orders": (10, "list-user-orders"),
    "GET /users": (10, "list-users"),
    "GET /users?status=active": (5, "list-users"),
}


class Client:
    """One keep-alive connection."""

    def __init__(self, base):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port

    def __enter__(self):
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self

    def __exit__(self, *_):
        self.connection.close()

    def call(self, method, path, body=None, token=None):
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if token:
            headers["authorization"] = f"Bearer {token}"
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            # A connection the server closed: open another and try once more.
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return response.status, parsed


def mailbox_tokens(ses_base, addresses, deadline):
    """The reset token emailed to each address, from the local SES's store."""
    found = {}
    while len(found) < len(addresses):
        if time.monotonic() > deadline:
            missing = sorted(set(addresses) - set(found))
            raise SystemExit(f"no reset email for {len(missing)} users, e.g. {missing[0]}")
        with urllib.request.urlopen(f"{ses_base}/store", timeout=30) as response:
            store = json.load(response)
        for email in store.get("emails", []):
            text = email["body"]["text"] or ""
            for address in email["destination"]["to"]:
                if address in addresses and "token=" in text:
                    line = next(line for line in text.splitlines() if "token=" in line)
                    found[address] = line.split("token=", 1)[1].split()[0].strip()
        time.sleep(0.5)
    return found


def prepare(api, ses_base, count):
    """`count` users with a password, signed in: [{id, email, access, refresh}]."""
    run = uuid.uuid4().hex[:8]
    users = []
    with Client(api) as client:
        for n in range(count):
            email = f"load-{run}-{n}@example.com"
            status, body = client.call("POST", "/users", {"email": email, "name": "Load Test"})
            assert status == 201, (status, body)
            users.append({"id": body["id"], "email": email})
            status, body = client.call("POST", "/password-reset", {"email": email})
            assert status == 202, (status, body)
        tokens = mailbox_tokens(ses_base, {user["email"] for user in users}, time.monotonic() + 120)
        for user in users:
            status, body = client.call(
                "POST",
                "/password-reset/confirm",
                {"token": tokens[user["email"]], "new_password": PASSWORD},
            )
            assert status == 204, (status, body)
            status, body = client.call("POST", "/login", {"email": user["email"], "password": PASSWORD})
            assert status == 200, (status, body)
            user["access"], user["refresh"] = body["access_token"], body["refresh_token"]
    return run, users


def admin_token(api):
    with Client(api) as client:
        status, body = client.call(
            "POST", "/login", {"email": "admin@example.com", "password": "local-admin-password"}
        )
    assert status == 200, (status, body)
    return body["access_token"]


class Budget:
    """The run's end: a time and a number of requests, shared by every client."""

    def __init__(self, seconds, requests):
        self.deadline = time.monotonic() + seconds
        self.left = requests
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


def one_request(client, route, user, admin, run, serial):
    """Sends `route` for `user`; the status, and the status a correct answer has."""
    if route == "POST /users":
        email = f"load-{run}-new-{serial}@example.com"
        return client.call("POST", "/users", {"email": email, "name": "New User"})[0], 201
    if route == "POST /login":
        status, body = client.call("POST", "/login", {"email": user["email"], "password": PASSWORD})
        if status == 200:
            user["access"], user["refresh"] = body["access_token"], body["refresh_token"]
        return status, 200
    if route == "POST /token/refresh":
        status, body = client.call("POST", "/token/refresh", {"refresh_token": user["refresh"]})
        if status == 200:
            user["access"], user["refresh"] = body["access_token"], body["refresh_token"]
        return status, 200
    if route == "GET /users/{id}":
        return client.call("GET", f"/users/{user['id']}", token=user["access"])[0], 200
    if route == "POST /users/{id}/orders":
        order = {"items": [{"sku": "BOOK-1", "quantity": 1, "unit_price": {"amount": "9.90", "currency": "EUR"}}]}
        return client.call("POST", f"/users/{user['id']}/orders", order, token=user["access"])[0], 201
    if route == "GET /users/{id}/orders":
        return client.call("GET", f"/users/{user['id']}/orders?limit=10", token=user["access"])[0], 200
    if route == "GET /users":
        return client.call("GET", "/users?limit=20", token=admin)[0], 200
    if route == "GET /users?status=active":
        return client.call("GET", "/users?status=active&limit=20", token=admin)[0], 200
    raise ValueError(route)


def worker(api, own_users, admin, run, budget, results, number):
    """One client: its own connection and users (a refresh token is used by one client only)."""
    rng = random.Random(number)
    routes = list(MIX)
    weights = [MIX[route][0] for route in routes]
    serial = 0
    with Client(api) as client:
        while budget.take():
            route = rng.choices(routes, weights)[0]
            user = rng.choice(own_users)
            serial += 1
            started = time.perf_counter()
            try:
                status, expected = one_request(client, route, user, admin, run, f"{number}-{serial}")
            except Exception as error:  # noqa: BLE001 - every failure is an error of the run
                status, expected = repr(error), 0
            results.append((route, (time.perf_counter() - started) * 1000, status, expected))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def index_writes(log, offset):
    """The index writes the functions recorded in the API log after `offset`."""
    writes = []
    with open(log, "rb") as lines:
        lines.seek(offset)
        for raw in lines:
            if b'"index_write"' not in raw:
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            writes.append((line.get("function", ""), line["index_write"]))
    return writes


def report(results, elapsed, writes, clients):
    by_route = collections.defaultdict(list)
    errors = collections.Counter()
    for route, milliseconds, status, expected in results:
        by_route[route].append(milliseconds)
        if status != expected:
            errors[(route, status)] += 1
    print(f"## make load: {len(results)} requests in {elapsed:.1f} s from {clients} clients, "
          f"{len(results) / elapsed:.1f} requests/s, {sum(errors.values())} errors\n")
    print("| route | requests | p50 | p99 |")
    print("| --- | ---: | ---: | ---: |")
    for route in MIX:
        times = by_route.get(route, [])
        if times:
            print(f"| `{route}` | {len(times)} | {statistics.median(times):.1f} ms | {percentile(times, 0.99):.1f} ms |")
    for (route, status), count in sorted(errors.items(), key=str):
        print(f"\nerror: {count} x `{route}` answered {status}")

    requests_per_function = collections.Counter()
    for route, times in by_route.items():
        requests_per_function[MIX[route][1]] += len(times)
    units = collections.defaultdict(lambda: collections.Counter())
    items_per_key = collections.Counter()
    for function, write in writes:
        for index, value in write["units"].items():
            units[function][index] += value
        if write["units"]:
            items_per_key.update(write["partitions"])
    print("\n| request kind (function) | requests | index write units per request |")
    print("| --- | ---: | --- |")
    for function in sorted(requests_per_function):
        count = requests_per_function[function]
        per_index = ", ".join(
            f"{index} {value / count:.2f}" for index, value in sorted(units[function].items())
        ) or "0"
        print(f"| {function} | {count} | {per_index} |")
    total_items = sum(items_per_key.values())
    if total_items:
        key, busiest = items_per_key.most_common(1)[0]
        print(f"\nIndex items written: {total_items} over {len(items_per_key)} partition keys; "
              f"the busiest, `{key}`, took {busiest} ({100 * busiest / total_items:.1f} %).")
    return sum(errors.values())


def main():
    api, ses_base, log, seconds, max_requests, clients = sys.argv[1:7]
    seconds, max_requests, clients = float(seconds), int(max_requests), int(clients)
    print(f"==> preparing {clients * 3} signed-in users (not timed)", file=sys.stderr)
    run, users = prepare(api, ses_base, clients * 3)
    admin = admin_token(api)
    with open(log, "rb") as existing:
        offset = existing.seek(0, 2)
    print(f"==> {clients} clients for {seconds:.0f} s or {max_requests} requests", file=sys.stderr)
    budget, results = Budget(seconds, max_requests), []
    started = time.perf_counter()
    threads = [
        threading.Thread(
            target=worker,
            args=(api, users[number::clients], admin, run, budget, results, number),
        )
        for number in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    time.sleep(1)  # the last requests' log lines
    errors = report(results, elapsed, index_writes(log, offset), clients)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
