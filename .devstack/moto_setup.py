"""Creates, on the local moto server, what the template creates in AWS: the KMS key that seals
secrets (under the alias SECRETS_KEY_ID names) and the mailer's dead-letter queue (named by
DEAD_LETTER_QUEUE_URL). moto keeps everything in memory, so every start creates them again."""

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
