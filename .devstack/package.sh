#!/usr/bin/env bash
# Builds one deployable zip per function with cargo-lambda, in release mode:
# target/lambda/<function>/bootstrap.zip. arm64 (what template.yaml deploys) where the
# aarch64 Rust target is installed; x86_64 otherwise, with a note on what that means.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/.devstack/venv/bin:$PATH"

packages=()
for dir in functions/*/; do
  packages+=(--package "$(basename "$dir")")
done

if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  arch_flag=--arm64
  echo "==> building $(( ${#packages[@]} / 2 )) functions for arm64 (release)"
else
  arch_flag=--x86-64
  cat <<'NOTE'
==> note: the aarch64 Rust target is not installed here, so the zips are x86_64.
    template.yaml deploys arm64 (Graviton: cheaper per ms). To deploy these zips, set
    Architectures: [x86_64] in its Globals, or build where the target can be added with:
        rustup target add aarch64-unknown-linux-gnu
NOTE
  echo "==> building $(( ${#packages[@]} / 2 )) functions for x86_64 (release)"
fi

cargo lambda build --release "$arch_flag" --output-format zip "${packages[@]}"

echo "==> zips:"
for dir in functions/*/; do
  name=$(basename "$dir")
  zip="target/lambda/$name/bootstrap.zip"
  [ -f "$zip" ] || { echo "error: $zip was not built" >&2; exit 1; }
  printf '    %-28s %s\n' "$zip" "$(du -h "$zip" | cut -f1)"
done
