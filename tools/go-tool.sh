#!/usr/bin/env bash
# Builds one of the small Go test programs in tools/<name>/ (its own module: go.mod, go.sum,
# *.go), CGO off, cached under $JWTR_CACHE_DIR (default ~/.cache/jwt-rotation-operator) keyed by
# a hash of that module's go.mod, go.sum and sources. Prints the binary's path on its last line.
#
#   bash tools/go-tool.sh argocd-health    # gopher-lua: runs Argo CD health checks
#   bash tools/go-tool.sh kstatus          # cli-utils kstatus and cel-go: Flux health
set -euo pipefail
name=${1:?usage: tools/go-tool.sh <name of a folder in tools/ holding a Go module>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir="$here/$name"
[ -f "$dir/go.mod" ] || { echo "no Go module in $dir" >&2; exit 1; }
cache_root=${JWTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jwt-rotation-operator}
key=$(cd "$dir" && cat go.mod go.sum *.go | sha256sum | cut -c1-12)
out="$cache_root/$name-$key"

if [ -x "$out/$name" ]; then echo "$out/$name"; exit 0; fi
mkdir -p "$cache_root"
exec 9>"$cache_root/.$name-build.lock"
flock 9
if [ -x "$out/$name" ]; then echo "$out/$name"; exit 0; fi
start=$SECONDS
echo "building tools/$name ..." >&2
mkdir -p "$out.partial"
(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.partial/$name" .)
rm -rf "$out" && mv "$out.partial" "$out"
echo "built tools/$name in $((SECONDS - start))s into $out" >&2
echo "$out/$name"
