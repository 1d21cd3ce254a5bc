#!/usr/bin/env bash
# Downloads the prometheus-operator Go module pinned in go.mod (checked against go.sum) into the
# Go module cache and prints the directory holding its CRDs on its last line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
module=github.com/prometheus-operator/prometheus-operator
version=$(awk -v m="$module" '($1==m && $2 ~ /^v/) {print $2} ($1=="require" && $2==m) {print $3}' go.mod | head -1)
dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir/example/prometheus-operator-crd" ] || { echo "no example/prometheus-operator-crd in $module@$version ($dir)" >&2; exit 1; }
echo "$dir/example/prometheus-operator-crd"
