#!/usr/bin/env bash
# Writes docs/methods.md from the method table (`clawgate methods --markdown`).
# With --check, fails when the committed file differs from what the binary says.
set -euo pipefail
BIN=${1:?usage: gen-methods-doc.sh path/to/clawgate [--check]}
DOC=$(dirname "$0")/../docs/methods.md
render() {
  echo "# Methods"
  echo
  echo "Generated from the method table by \`clawgate methods --markdown\`"
  echo "(\`scripts/gen-methods-doc.sh build/clawgate\`); a test fails when it is stale."
  echo "Roles and scopes are what authorization enforces: \`operator.admin\` grants every"
  echo "scope, \`operator.write\` also satisfies \`operator.read\`."
  echo
  "$BIN" methods --markdown
}
if [ "${2:-}" = "--check" ]; then
  diff -u "$DOC" <(render) && echo "docs/methods.md matches the method table"
else
  render > "$DOC"
fi
