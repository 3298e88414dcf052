#!/usr/bin/env bash
# `make keys [KID=...]`: a new Ed25519 key pair for access tokens of a deployed stack. The
# private key goes to a file of its own (mode 600, git-ignored) and from there into SSM; the
# public key joins the JWK set the template's TokenPublicKeys parameter publishes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
kid="${1:-key-$(date -u +%Y%m%d%H%M)}"
dir=".devstack/keys/deploy"
cargo run --quiet -p infrastructure --bin keys -- generate "$kid" "$dir"
set_json=$(python3 -c 'import json, pathlib, sys; print(json.dumps({"keys": [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.jwk.json"))]}, separators=(",", ":")))' "$dir")
cat <<EOT
==> key pair "$kid" written to $dir/ (the private key: $dir/$kid.private, mode 600)

1. Store the private key as a SecureString under the stack's own key (AWS CLI v2, with your
   AWS credentials; SecretsKeyArn is an output of the stack, so on a first deploy do this
   right after it, before the first login):

   aws ssm put-parameter --name /user-service/token-signing-key --type SecureString \\
     --key-id <SecretsKeyArn output> --overwrite --value "file://$dir/$kid.private"

2. Deploy with these parameter values (make deploy asks for them the first time):

   TokenSigningKid=$kid
   TokenPublicKeys=$set_json

   The set lists every public key in $dir/: during a rotation, keep the old key in it for at
   least 15 minutes after the new one signs (access tokens live 15 minutes), then delete the
   old key's files and deploy again.
EOT
