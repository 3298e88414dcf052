#!/usr/bin/env bash
# `make redrive`: empties the mailer's and the publisher's dead-letter queues into the outbox
# again (README, "Email delivery", "Events"). With no arguments, the running local stack's
# queues (moto) and table; with TABLE and QUEUE (the stack's TableName and
# MailDeadLetterQueueUrl outputs, and EVENT_QUEUE for its EventDeadLetterQueueUrl), a deployed
# stack's, with the AWS credentials of the shell.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$(dirname "$here")"
table=${1:-} queue=${2:-} event_queue=${3:-}
if [ -z "$table$queue" ]; then
  set -a
  # shellcheck source=local.env
  . "$here/local.env"
  set +a
elif [ -n "$table" ] && [ -n "$queue" ]; then
  export TABLE_NAME="$table" DEAD_LETTER_QUEUE_URL="$queue"
  if [ -n "$event_queue" ]; then export EVENT_DEAD_LETTER_QUEUE_URL="$event_queue"; fi
else
  echo "usage: make redrive (the local stack), or make redrive TABLE=<TableName> QUEUE=<MailDeadLetterQueueUrl> [EVENT_QUEUE=<EventDeadLetterQueueUrl>]" >&2
  exit 2
fi
exec cargo run --quiet -p infrastructure --bin admin -- redrive
