#!/usr/bin/env bash
# Fails when a source file includes a layer above its own (docs/design.md "Layers").
# Each directory lists the src/ directories it may include besides itself.
set -euo pipefail
cd "$(dirname "$0")/../src"
declare -A allowed=(
  [common]=""
  [net]="common"
  [auth]="common config store"
  [config]="common"
  [store]="common"
  [proto]="common config auth"
  [gateway]="common config auth proto net store"
  [nodes]="common config store auth"
  [agent]="common config store"
  [methods]="common config gateway methods auth store nodes proto exec agent cron skills channels wizard browser ui"
  [cron]="common"
  [skills]="common config"
  [channels]="common config store agent"
  [wizard]="common config agent"
  [browser]="common"
  [ui]="common"
  [exec]="common"
  [client]="common net"
  [cli]="common config client wizard agent"
)
status=0
for dir in "${!allowed[@]}"; do
  for f in "$dir"/*.[ch]; do
    [ -e "$f" ] || continue
    while read -r inc; do
      target=${inc%%/*}
      [ "$target" = "$dir" ] && continue
      if [[ " ${allowed[$dir]} " != *" $target "* ]]; then
        echo "$f includes $inc: $dir may not include $target"
        status=1
      fi
    done < <(sed -n 's/^#include "\([a-z_]*\/[^"]*\)".*/\1/p' "$f")
  done
done
# Method families see the gateway's public face only.
if grep -n '#include "gateway/\(gateway_int\|conn\)\.h"' methods/*.c; then
  echo "methods/ must use gateway/gateway.h, not the gateway's internals"
  status=1
fi
[ $status -eq 0 ] && echo "layers: every include goes down"
exit $status
