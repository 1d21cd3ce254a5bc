#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from the Go modules pinned in tools/cluster/*/go.mod.
# Binaries are cached under $JWTR_CACHE_DIR (default ~/.cache/jwt-rotation-operator),
# keyed by a hash of the pinned modules, so a second run takes no time.
# Prints the directory that holds the binaries on its last line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${JWTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jwt-rotation-operator}

# The version goes into the binaries (ldflags) and the cache key; the pinned modules make up the rest of the key.
k8s_version=$(awk '($1=="k8s.io/kubernetes" && $2 ~ /^v/) {print $2} ($1=="require" && $2=="k8s.io/kubernetes") {print $3}' "$here/k8s/go.mod" | head -1)
[ -n "$k8s_version" ] || { echo "cannot read the k8s.io/kubernetes version from $here/k8s/go.mod" >&2; exit 1; }
key=$(cat "$here/k8s/go.mod" "$here/k8s/go.sum" "$here/kwok/go.mod" "$here/kwok/go.sum" "$here/k8s/etcd/main.go" | sha256sum | cut -c1-12)
out="$cache_root/cluster-$k8s_version-$key"
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

# Exits with the cache directory when every binary is already there.
use_cache_if_complete() {
  local b
  for b in "${bins[@]}"; do [ -x "$out/$b" ] || return 0; done
  echo "control plane $k8s_version: cached in $out" >&2
  echo "$out"
  exit 0
}
use_cache_if_complete

# One build at a time: a second caller waits, then finds the cache filled.
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
if ! flock -n 9; then
  echo "another build of the control plane is running; waiting for it ..." >&2
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

build() { # build <module dir> <output name> <package>
  local start=$SECONDS
  echo "building $2 ..." >&2
  (cd "$here/$1" && go build -trimpath -ldflags "$ldflags" -o "$out.partial/$2" "$3")
  echo "built $2 in $((SECONDS - start))s" >&2
}

total=$SECONDS
[ -x "$out.partial/etcd" ] || build k8s etcd ./etcd
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$out.partial/$b" ] || build k8s "$b" "k8s.io/kubernetes/cmd/$b"
done
[ -x "$out.partial/kwok" ] || build kwok kwok sigs.k8s.io/kwok/cmd/kwok
rm -rf "$out" && mv "$out.partial" "$out"
echo "control plane $k8s_version built in $((SECONDS - total))s into $out" >&2
echo "$out"
