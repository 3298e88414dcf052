# The two commands: `make run` serves the API on http://localhost:9000 with DynamoDB Local
# and a local SES; `make test` sets up the same stack, runs every test, and stops it.
.DEFAULT_GOAL := help
.PHONY: help run test install check fmt clippy hakari validate package deploy openapi bench load two-step-timing keys admin redrive events trace smoke

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## install what is missing, start DynamoDB Local, the local SES and the API; Ctrl-C stops all
	@.devstack/stack.sh run

test: ## the template checks, the same set-up, then every test; stops what it started, also when tests fail; ends with the time per phase
	@.devstack/stack.sh test

bench: ## release builds under a loopback Lambda Runtime API: cold start, latency, memory (docs/performance.md)
	@.devstack/stack.sh bench

load: ## the local stack under a bounded mixed load (60 s, at most 3000 requests): throughput, p50/p99 per route, errors, index writes
	@.devstack/stack.sh load

two-step-timing: ## against a running make run: a right password with a factor on (403) timed beside wrong ones (401)
	@cd .devstack && python3 two_step_timing.py http://127.0.0.1:9000 http://127.0.0.1:8005 30

install: ## install the local stack's tools into the repository (.devstack/)
	@.devstack/stack.sh install

check: ## formatting, lints and the one feature set (cargo hakari verify), as CI expects them; ends with the time per phase
	@.devstack/stack.sh check

fmt: ## cargo fmt --check
	cargo fmt --all -- --check

clippy: ## cargo clippy with warnings as errors
	cargo clippy --workspace --all-targets -- -D warnings

validate: ## lint template.yaml offline: cfn-lint and sam validate --lint
	@.devstack/stack.sh validate

hakari: ## after a dependency change: regenerate workspace-hack/ (cargo hakari), then commit it
	@.devstack/stack.sh hakari

package: install ## one release zip per function in target/lambda/<name>/ (arm64 where possible)
	@.devstack/package.sh

deploy: install ## sam build + sam deploy (guided the first time; ENV=testing|prod for a stage); needs AWS credentials
	@ENV="$(ENV)" .devstack/deploy.sh

smoke: ## the smoke set against a deployed API (no data, no credentials): make smoke API=https://...
	@test -n "$(API)" || { echo "usage: make smoke API=<base url of the API>" >&2; exit 2; }
	@python3 .devstack/smoke.py "$(API)"

openapi: ## regenerate docs/openapi.json from the code (a test fails while it is stale)
	cargo run --quiet -p http-api --bin openapi > docs/openapi.json

keys: ## a new access-token key pair for a deployment: writes .devstack/keys/deploy/, prints the commands that store it
	@.devstack/keys.sh $(KID)

admin: ## make an existing user an admin in a deployed stack: make admin EMAIL=... TABLE=... (AWS credentials)
	@test -n "$(EMAIL)" -a -n "$(TABLE)" || { echo "usage: make admin EMAIL=you@example.com TABLE=<TableName output>" >&2; exit 2; }
	TABLE_NAME=$(TABLE) cargo run --quiet -p infrastructure --bin admin -- promote "$(EMAIL)"

events: ## the events the running local stack published (queue user-events-local), one JSON per line; leaves them there
	@set -a && . .devstack/local.env && set +a && .devstack/venv/bin/python .devstack/events.py

trace: ## one trace of the running local stack as a tree with durations: make trace ID=1-...; without ID, the latest traces
	@python3 .devstack/trace.py "$(ID)"

redrive: ## send again the emails and events of the dead letters: make redrive (the local stack), or TABLE=... QUEUE=... [EVENT_QUEUE=...] (AWS credentials)
	@.devstack/redrive.sh "$(TABLE)" "$(QUEUE)" "$(EVENT_QUEUE)"
