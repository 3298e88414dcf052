"""`make events`: the events the local bus delivered to the queue user-events-local (API.md,
"Events"), one JSON document per line, oldest first. It only looks: every message is left on
the queue (each is hidden for two seconds while the queue is read, then visible again)."""

import json
import os
import sys

import boto3

session = boto3.session.Session(
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    region_name=os.environ["AWS_REGION"],
)
sqs = session.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
queue = os.environ["EVENTS_QUEUE_URL"]
events = []
while True:
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=2)
    messages = received.get("Messages", [])
    if not messages:
        break
    events.extend(json.loads(message["Body"]) for message in messages)
events.sort(key=lambda event: event.get("detail", {}).get("occurred_at", ""))
for event in events:
    sys.stdout.write(json.dumps(event) + "\n")
sys.stderr.write(f"{len(events)} event(s) on {queue}\n")
