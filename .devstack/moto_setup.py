"""Creates, on the local moto server, what the template creates in AWS: the KMS key that seals
secrets (under the alias SECRETS_KEY_ID names), the mailer's and the publisher's dead-letter
queues (DEAD_LETTER_QUEUE_URL, EVENT_DEAD_LETTER_QUEUE_URL), and the event bus EVENT_BUS_NAME with a rule that delivers every event
of the service to the queue EVENTS_QUEUE_URL names (API.md, "Events"), checked with one event.
moto keeps everything in memory, so every start creates them again."""

import json
import os

import boto3

endpoint = os.environ["AWS_ENDPOINT_URL_KMS"]
session = boto3.session.Session(
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    region_name=os.environ["AWS_REGION"],
)
kms = session.client("kms", endpoint_url=endpoint)
key = kms.create_key(
    Description="user-service local: seals tokens inside outbox emails",
    KeyUsage="ENCRYPT_DECRYPT",
    KeySpec="SYMMETRIC_DEFAULT",
)["KeyMetadata"]["KeyId"]
kms.enable_key_rotation(KeyId=key)
kms.create_alias(AliasName=os.environ["SECRETS_KEY_ID"], TargetKeyId=key)

sqs = session.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
queue_name = os.environ["DEAD_LETTER_QUEUE_URL"].rstrip("/").rsplit("/", 1)[-1]
sqs.create_queue(QueueName=queue_name, Attributes={"MessageRetentionPeriod": "1209600"})
event_dead_letters = os.environ["EVENT_DEAD_LETTER_QUEUE_URL"].rstrip("/").rsplit("/", 1)[-1]
sqs.create_queue(QueueName=event_dead_letters, Attributes={"MessageRetentionPeriod": "1209600"})

events_queue_name = os.environ["EVENTS_QUEUE_URL"].rstrip("/").rsplit("/", 1)[-1]
events_queue = sqs.create_queue(QueueName=events_queue_name)["QueueUrl"]
events_queue_arn = sqs.get_queue_attributes(QueueUrl=events_queue, AttributeNames=["QueueArn"])[
    "Attributes"
]["QueueArn"]
events = session.client("events", endpoint_url=os.environ["AWS_ENDPOINT_URL_EVENTBRIDGE"])
bus = os.environ["EVENT_BUS_NAME"]
events.create_event_bus(Name=bus)
events.put_rule(
    Name="user-service-events-to-queue",
    EventBusName=bus,
    EventPattern=json.dumps({"source": ["user-service"]}),
)
events.put_targets(
    Rule="user-service-events-to-queue",
    EventBusName=bus,
    Targets=[{"Id": "user-events-local", "Arn": events_queue_arn}],
)

# The path works: an event put on the bus reaches the queue (then it is taken off again).
put = events.put_events(
    Entries=[
        {
            "Source": "user-service",
            "DetailType": "LocalStackStarted",
            "Detail": json.dumps({"check": True}),
            "EventBusName": bus,
        }
    ]
)
assert put["FailedEntryCount"] == 0, put
received = sqs.receive_message(QueueUrl=events_queue, MaxNumberOfMessages=1, WaitTimeSeconds=5)
messages = received.get("Messages", [])
assert messages and json.loads(messages[0]["Body"])["detail-type"] == "LocalStackStarted", received
sqs.delete_message(QueueUrl=events_queue, ReceiptHandle=messages[0]["ReceiptHandle"])
