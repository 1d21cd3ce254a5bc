#!/usr/bin/env bash
# Builds helm from the Go module pinned in tools/helm/go.mod (CGO off), the same way
# tools/cluster/build.sh builds the control plane. The binary is cached under $JWTR_CACHE_DIR
# (default ~/.cache/jwt-rotation-operator), keyed by a hash of the pinned go.mod and go.sum,
# (and of this script), so a second run takes no time. Prints the path of the helm binary on its
# last line.
#
#   helm=$(bash tools/helm/build.sh | tail -n 1)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${JWTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jwt-rotation-operator}

version=$(awk '($1=="helm.sh/helm/v3" && $2 ~ /^v/) {print $2} ($1=="require" && $2=="helm.sh/helm/v3") {print $3}' "$here/go.mod" | head -1)
[ -n "$version" ] || { echo "cannot read the helm.sh/helm/v3 version from $here/go.mod" >&2; exit 1; }
# The Kubernetes version helm assumes without a cluster (helm template, lint) is a link-time
# setting; like helm's own release builds, take it from the k8s.io/client-go it is built with.
client_go=$(awk '$1=="k8s.io/client-go" && $2 ~ /^v0\./ {print $2}' "$here/go.mod" | head -1)
[ -n "$client_go" ] || { echo "cannot read the k8s.io/client-go version from $here/go.mod" >&2; exit 1; }
k8s_minor=$(echo "$client_go" | cut -d. -f2)
key=$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)
out="$cache_root/helm-$version-$key"

use_cache_if_present() {
  if [ -x "$out/helm" ]; then
    echo "helm $version: cached in $out" >&2
    echo "$out/helm"
    exit 0
  fi
}
use_cache_if_present

# One build at a time: a second caller waits, then finds the cache filled.
mkdir -p "$cache_root"
exec 9>"$cache_root/.helm-build.lock"
if ! flock -n 9; then
  echo "another build of helm is running; waiting for it ..." >&2
  flock 9
fi
use_cache_if_present

start=$SECONDS
echo "building helm $version ..." >&2
mkdir -p "$out.partial"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$out.partial/helm" helm.sh/helm/v3/cmd/helm)
rm -rf "$out" && mv "$out.partial" "$out"
echo "helm $version built in $((SECONDS - start))s into $out" >&2
echo "$out/helm"
