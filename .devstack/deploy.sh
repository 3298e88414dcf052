#!/usr/bin/env bash
# Builds every function with `sam build` (cargo-lambda, arm64) and deploys the stack.
# The first run is guided and saves its answers in samconfig.toml; later runs reuse them.
# With ENV=testing or ENV=prod, that stage of samconfig.toml instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/.devstack/venv/bin:$PATH" SAM_CLI_TELEMETRY=0

command -v aws >/dev/null || echo "note: the AWS CLI is not installed; SAM only needs credentials (aws configure, or AWS_* variables)."
if ! rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  echo "error: the functions deploy as arm64; add the target first: rustup target add aarch64-unknown-linux-gnu" >&2
  exit 1
fi

# ENV=testing|prod: that stage's settings in samconfig.toml (stack name, deployment type).
if [ -n "${ENV:-}" ]; then
  case "$ENV" in
    testing | prod) ;;
    *) echo "error: ENV is testing or prod (samconfig.toml), not $ENV" >&2; exit 2 ;;
  esac
  sam build --config-env "$ENV"
  sam deploy --config-env "$ENV"
  exit 0
fi

sam build
if grep -q '^\[default\.deploy\.parameters\]' samconfig.toml; then
  sam deploy
else
  sam deploy --guided
fi
