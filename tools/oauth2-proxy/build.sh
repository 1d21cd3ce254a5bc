#!/usr/bin/env bash
# Builds oauth2-proxy from its Go module (github.com/oauth2-proxy/oauth2-proxy/v7, the version pinned
# below), CGO off, the way its own Makefile does, for the issuer's relying-party test
# (test/integration/issuer-relying-parties.test.ts: a verifier from another codebase, go-oidc's
# remote key set). Cached under $JWTR_CACHE_DIR (default ~/.cache/jwt-rotation-operator), keyed by
# the version and this script, so a second run takes no time. Prints the binary's path on its last line.
#
#   oauth2_proxy=$(bash tools/oauth2-proxy/build.sh | tail -n 1)
set -euo pipefail
version=v7.15.6
module=github.com/oauth2-proxy/oauth2-proxy/v7
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${JWTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jwt-rotation-operator}
key=$(cat "$here/build.sh" | sha256sum | cut -c1-12)
out="$cache_root/oauth2-proxy-$version-$key"

use_cache_if_present() {
  if [ -x "$out/oauth2-proxy" ]; then
    echo "oauth2-proxy $version: cached in $out" >&2
    echo "$out/oauth2-proxy"
    exit 0
  fi
}
use_cache_if_present

# One build at a time: a second caller waits, then finds the cache filled.
mkdir -p "$cache_root"
exec 9>"$cache_root/.oauth2-proxy-build.lock"
if ! flock -n 9; then
  echo "another build of oauth2-proxy is running; waiting for it ..." >&2
  flock 9
fi
use_cache_if_present

start=$SECONDS
echo "building oauth2-proxy $version ..." >&2
rm -rf "$out.partial"
mkdir -p "$out.partial"
# `go install module@version` builds the module with its own go.mod and go.sum (it has no replace
# directive), so the dependency versions are the release's.
GOBIN="$out.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath \
  -ldflags "-s -w -X $module/pkg/version.VERSION=$version" "$module@$version"
rm -rf "$out" && mv "$out.partial" "$out"
echo "oauth2-proxy $version built in $((SECONDS - start))s into $out" >&2
echo "$out/oauth2-proxy"
