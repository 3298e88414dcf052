"""The events' end-to-end delay on the local stack (docs/performance.md, "Events"): N
registrations one after another (200 ms apart), then each UserRegistered event's arrival in
user-events-local (SQS SentTimestamp) minus its occurred_at. With `make run` up:
    set -a; . .devstack/local.env; set +a; .devstack/venv/bin/python .devstack/event_delay.py 30
It leaves the events on the queue (each hidden for 30 s after it is read)."""

import datetime
import json
import os
import statistics
import sys
import time
import urllib.request

import boto3

count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
api = os.environ.get("API_URL", "http://127.0.0.1:9000")
users = set()
for n in range(count):
    body = json.dumps({"email": f"delay-{time.time_ns()}-{n}@example.com", "name": "Delay"}).encode()
    request = urllib.request.Request(f"{api}/users", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        users.add(json.loads(response.read())["id"])
    time.sleep(0.2)
time.sleep(5)

session = boto3.session.Session(
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    region_name=os.environ["AWS_REGION"],
)
sqs = session.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
queue = os.environ["EVENTS_QUEUE_URL"]
delays = []
while True:
    messages = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"], VisibilityTimeout=30
    ).get("Messages", [])
    if not messages:
        break
    for message in messages:
        event = json.loads(message["Body"])
        if event["detail-type"] == "UserRegistered" and event["detail"].get("user_id") in users:
            occurred = datetime.datetime.fromisoformat(event["detail"]["occurred_at"].replace("Z", "+00:00"))
            delays.append(int(message["Attributes"]["SentTimestamp"]) - occurred.timestamp() * 1000)
delays.sort()
print(
    f"{len(delays)} of {count} events; delay p50 {statistics.median(delays):.0f} ms, "
    f"p90 {delays[max(0, int(0.9 * len(delays)) - 1)]:.0f} ms, max {delays[-1]:.0f} ms"
)
