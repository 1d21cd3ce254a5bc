#!/usr/bin/env bash
# Builds the real node's binaries, kubelet and kube-proxy, from tools/cluster/node/go.mod (the same
# k8s.io/kubernetes pin and staging replaces as tools/cluster/k8s/go.mod, checked below), and the
# pods' sandbox program (tools/cluster/node/pause). A separate module, so that adding the node does
# not change the control plane's cache key.
# Binaries are cached under $JWTR_CACHE_DIR (default ~/.cache/jwt-rotation-operator) in
# node-<version>-<hash of the module>, like build.sh. Builds take the same lock as build.sh, so a
# control-plane build and a node build never run at once (2 cores, ~2.7 GB RSS each).
# Prints the directory that holds the binaries on its last line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${JWTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jwt-rotation-operator}

k8s_pin() { awk '($1=="k8s.io/kubernetes" && $2 ~ /^v/) {print $2} ($1=="require" && $2=="k8s.io/kubernetes") {print $3}' "$1" | head -1; }
k8s_version=$(k8s_pin "$here/node/go.mod")
[ -n "$k8s_version" ] || { echo "cannot read the k8s.io/kubernetes version from $here/node/go.mod" >&2; exit 1; }
if [ "$k8s_version" != "$(k8s_pin "$here/k8s/go.mod")" ]; then
  echo "tools/cluster/node/go.mod pins k8s.io/kubernetes $k8s_version but tools/cluster/k8s/go.mod pins" \
    "$(k8s_pin "$here/k8s/go.mod"): bump both together" >&2
  exit 1
fi
# The staging replaces must agree too (a kubelet from another client-go would still start, but
# would not be "the same version" any more).
replaces() { grep -E '^\s+k8s\.io/[a-z0-9-]+ => ' "$1" | sort; }
mismatch=$(join <(replaces "$here/k8s/go.mod" | awk '{print $1, $4}') <(replaces "$here/node/go.mod" | awk '{print $1, $4}') | awk '$2 != $3')
[ -z "$mismatch" ] || { echo "staging replaces differ between k8s/go.mod and node/go.mod: $mismatch" >&2; exit 1; }

key=$(cat "$here/node/go.mod" "$here/node/go.sum" "$here/node/pause/main.go" | sha256sum | cut -c1-12)
out="$cache_root/node-$k8s_version-$key"
bins=(kubelet kube-proxy pause)

use_cache_if_complete() {
  local b
  for b in "${bins[@]}"; do [ -x "$out/$b" ] || return 0; done
  echo "node $k8s_version: cached in $out" >&2
  echo "$out"
  exit 0
}
use_cache_if_complete

# The lock build.sh holds: one Go build at a time on this machine.
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
if ! flock -n 9; then
  echo "another build (control plane or node) is running; waiting for it ..." >&2
  flock 9
fi
use_cache_if_complete

mkdir -p "$out.partial"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build() { # build <output name> <package>
  local start=$SECONDS
  echo "building $1 ..." >&2
  (cd "$here/node" && go build -trimpath -ldflags "$ldflags" -o "$out.partial/$1" "$2")
  echo "built $1 in $((SECONDS - start))s" >&2
}

total=$SECONDS
[ -x "$out.partial/pause" ] || build pause ./pause
for b in kubelet kube-proxy; do
  [ -x "$out.partial/$b" ] || build "$b" "k8s.io/kubernetes/cmd/$b"
done
rm -rf "$out" && mv "$out.partial" "$out"
echo "node $k8s_version built in $((SECONDS - total))s into $out" >&2
echo "$out"
