#!/usr/bin/env bash
# What the consumer kits' tests need beyond Node: Debian's python3 with PyJWT, cryptography and
# prometheus_client (from Debian: no PyPI here), and the Go kit's modules (through the Go module proxy).
# Idempotent: nothing is installed or downloaded when it is all there.
#
#   bash sdk/install-deps.sh        (as root for the apt part; `npm run setup` and .ci/run call it)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

packages=(python3 python3-jwt python3-cryptography python3-prometheus-client)
missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then missing+=("$p"); fi
done
if [ "${#missing[@]}" != 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "sdk/install-deps: missing ${missing[*]}; run as root (apt-get install)" >&2; exit 1; }
  echo "sdk/install-deps: installing ${missing[*]}" >&2
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
    apt-get update
  fi
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 -c 'import jwt, cryptography, prometheus_client; print("sdk/install-deps: python3", __import__("sys").version.split()[0], "PyJWT", jwt.__version__, "cryptography", cryptography.__version__)' >&2

go=$(command -v go || echo /usr/local/go/bin/go)
(cd "$here/go" && "$go" mod download)
echo "sdk/install-deps: Go modules of sdk/go downloaded ($("$go" version | awk '{print $3}'))" >&2
