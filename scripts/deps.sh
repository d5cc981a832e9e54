#!/usr/bin/env bash
# Installs the Debian packages clawgate builds and tests with, only those missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libuv1-dev libhttp-parser-dev libwslay-dev libssl-dev
      libjansson-dev libsqlite3-dev libcurl4-openssl-dev libcmocka-dev nodejs npm openssl curl
      chromium clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from elsewhere than apt; only the commands matter.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=($(printf '%s\n' "${missing[@]}" | grep -vx -e nodejs -e npm || true))
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
