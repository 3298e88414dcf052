#!/usr/bin/env bash
# `make redrive`: empties the mailer's dead-letter queue into the outbox again (README, "Email
# delivery"). With no arguments, the running local stack's queue (moto) and table; with TABLE
# and QUEUE (the stack's TableName and DeadLetterQueueUrl outputs), a deployed stack's, with
# the AWS credentials of the shell.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$(dirname "$here")"
table=${1:-} queue=${2:-}
if [ -z "$table$queue" ]; then
  set -a
  # shellcheck source=local.env
  . "$here/local.env"
  set +a
elif [ -n "$table" ] && [ -n "$queue" ]; then
  export TABLE_NAME="$table" DEAD_LETTER_QUEUE_URL="$queue"
else
  echo "usage: make redrive (the local stack), or make redrive TABLE=<TableName> QUEUE=<DeadLetterQueueUrl>" >&2
  exit 2
fi
exec cargo run --quiet -p infrastructure --bin admin -- redrive
