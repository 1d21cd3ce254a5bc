#!/usr/bin/env bash
# npm run image:build: the images the real node runs, made without any registry.
#
#   localhost/node-build:24-forky      Debian forky minbase + nodejs 24 + npm (the Dockerfiles' build stage)
#   localhost/node-runtime:24-forky    Debian forky minbase + nodejs 24 + ca-certificates (their runtime stage)
#
# Why forky: upstream Node 20 reached its end of life on 2026-04-30, and trixie's nodejs is 20.19,
# which image scanners flag. forky (Debian testing) carries nodejs 24, the Active LTS line, from the
# same archive. Development and the tests keep running on the machine's Node 20 (package.json's
# engines); the images, and so the e2e tier that runs them, are Node 24.
#   localhost/jwtr-pause:1             the pods' sandbox: tools/cluster/node/pause, one static file
#   localhost/jwt-rotation-operator:dev  ./Dockerfile
#   localhost/jwt-consumer:dev           examples/consumer/Dockerfile
#   localhost/python-runtime:trixie      Debian trixie minbase + python3 + python3-jwt, -cryptography, -prometheus-client
#   localhost/jwt-consumer-go:dev        sdk/go/examples/server: a static Go binary, alone on an empty base
#   localhost/jwt-consumer-python:dev    sdk/python/examples/server.py on localhost/python-runtime:trixie
#
# The two bases are root filesystems made by mmdebstrap from Debian's packages (tarballs cached under
# $JWTR_CACHE_DIR/images, default ~/.cache/jwt-rotation-operator/images). Images are built by buildah
# (no daemon), saved as OCI archives in that cache, and imported into the real node's containerd
# when it runs (tools/cluster/node.sh imports them when it starts, too). Every name is localhost/...,
# so an accidental pull could only go to loopback.
#
# Usage: tools/images/build.sh [pause|all]     (default all; "pause" is what the node needs to start)
# Environment: DEBIAN_MIRROR (default: the first http(s) Debian mirror of apt's sources here),
#              IMAGES_REBUILD_BASE=1 (make the base root filesystems again)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cache_root=${JWTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jwt-rotation-operator}
img_cache=$cache_root/images
what=${1:-all}
say() { printf '[images] %s\n' "$*" >&2; }
t_all=$SECONDS

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { say "$tool is missing: run tools/cluster/install-deps.sh"; exit 1; }
done
[ -x /usr/sbin/runc ] || { say "runc is missing: run tools/cluster/install-deps.sh"; exit 1; }
mkdir -p "$img_cache/oci"
# One image build at a time (buildah's storage is shared by every worktree on the machine).
exec 8>"$img_cache/.lock"
flock 8

# crun (buildah's default here) refuses this machine kind's hybrid cgroups; the default nproc ulimit
# is above the hard limit, which an unprivileged machine cannot raise.
buildah_run_opts=(--runtime /usr/sbin/runc --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 --network host)
# npm ci inside the build reaches the npm registry through a proxy whose CA the host trusts and a
# fresh Debian rootfs does not: the host's bundle is mounted for the build only, never copied in.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
ca_mount=()
[ -f "$ca_bundle" ] && ca_mount=(-v "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro")

image_exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# save <image> <archive name>: an OCI archive that `ctr images import` reads.
save() {
  local tmp=$img_cache/oci/$2.tar.partial
  rm -f "$tmp"
  buildah push --quiet "$1" "oci-archive:$tmp:$1" >/dev/null
  mv "$tmp" "$img_cache/oci/$2.tar"
}

# Imports the archives into the real node's containerd, if it is running.
import_into_node() {
  local sock=/run/jwtr-node/containerd.sock a
  [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1 || {
    say "the real node is not running: its containerd imports these archives when it starts"
    return 0
  }
  for a in "$@"; do
    ctr --address "$sock" -n k8s.io images import "$img_cache/oci/$a.tar" >/dev/null
    say "imported $a into the real node's containerd"
  done
}

# ---------------------------------------------------------------------------------------------
# pause: a static Go program (tools/cluster/build-node.sh builds it with kubelet and kube-proxy).
build_pause() {
  local dir sum
  dir=$(bash "$repo/tools/cluster/build-node.sh" 8>&- | tail -n 1) # fd 8 is our lock: not for the Go build to hold
  sum=$(sha256sum "$dir/pause" | cut -c1-12)
  if image_exists localhost/jwtr-pause:1 &&
    [ "$(buildah inspect --type image --format '{{index .ImageAnnotations "io.jwtrotation.source"}}' localhost/jwtr-pause:1 2>/dev/null)" = "$sum" ] &&
    [ -f "$img_cache/oci/pause.tar" ]; then
    say "localhost/jwtr-pause:1 is up to date"
    return 0
  fi
  local c
  c=$(buildah from scratch)
  buildah copy --chmod 0755 "$c" "$dir/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 --annotation "io.jwtrotation.source=$sum" \
    --label org.opencontainers.image.title=jwtr-pause "$c"
  buildah commit --quiet --rm "$c" localhost/jwtr-pause:1 >/dev/null
  save localhost/jwtr-pause:1 pause
  say "built localhost/jwtr-pause:1 ($(du -h "$dir/pause" | cut -f1) binary)"
}

# ---------------------------------------------------------------------------------------------
# Base root filesystems from Debian packages.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
    grep -oE 'https?://[^ ]+' | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

# The Debian suite the Node bases come from, and the tag it gives them.
suite=forky
base_tag=24-forky

# base <name> <packages> [tag] [cmd] [suite]: localhost/<name>:<tag, default $base_tag> from a cached
# mmdebstrap tarball of <suite> (default $suite).
base() {
  local name=$1 packages=$2 tag=${3:-$base_tag} cmd=${4:-'["node"]'} from=${5:-$suite} key tar t
  key=$(printf '%s minbase %s' "$from" "$packages" | sha256sum | cut -c1-12)
  tar=$img_cache/$name-$from-$key.tar
  if [ ! -s "$tar" ] || [ "${IMAGES_REBUILD_BASE:-}" = 1 ]; then
    t=$SECONDS
    say "making the $name root filesystem with mmdebstrap ($from: $packages) ..."
    # forky is Debian testing, whose Release file is valid for a week only; the archive this machine
    # reaches serves a copy that can be older than that. The packages are still checked against the
    # archive's signatures; only the Release file's freshness is not.
    mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" --aptopt='Acquire::Retries "3"' \
      --aptopt='Acquire::Check-Valid-Until "false"' \
      --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
      "$from" "$tar.partial" "$(debian_mirror)"
    mv "$tar.partial" "$tar"
    say "made $tar ($(du -h "$tar" | cut -f1)) in $((SECONDS - t))s"
  fi
  if image_exists "localhost/$name:$tag" &&
    [ "$(buildah inspect --type image --format '{{index .ImageAnnotations "io.jwtrotation.source"}}' "localhost/$name:$tag")" = "$key" ]; then
    return 0
  fi
  local c
  c=$(buildah from scratch)
  buildah add "$c" "$tar" / >/dev/null
  buildah config --env PATH=/usr/local/bin:/usr/bin:/bin --cmd "$cmd" --annotation "io.jwtrotation.source=$key" "$c"
  buildah commit --quiet --rm "$c" "localhost/$name:$tag" >/dev/null
  say "imported localhost/$name:$tag"
}

# build_app <image> <Dockerfile> <context> <archive name>
build_app() {
  local t=$SECONDS
  say "building $1 from $2 ..."
  buildah build --quiet --pull=never "${buildah_run_opts[@]}" "${ca_mount[@]}" --layers \
    --build-arg BUILD_IMAGE="localhost/node-build:$base_tag" \
    --build-arg RUNTIME_IMAGE="localhost/node-runtime:$base_tag" \
    -f "$2" -t "$1" "$3" >/dev/null
  check_no_host_ca "$1"
  [ "$4" != operator ] || check_no_test_hooks "$1"
  save "$1" "$4"
  say "built $1 in $((SECONDS - t))s: $(image_size "$1")"
}

# The host's CA bundle (with the proxy's CA) is for the build only: refuse an image that carries it.
check_no_host_ca() {
  [ -f "$ca_bundle" ] || return 0
  local c m sum
  c=$(buildah from --pull=never "$1")
  m=$(buildah mount "$c")
  sum=$(sha256sum "$m/etc/ssl/certs/ca-certificates.crt" 2>/dev/null | cut -d' ' -f1)
  buildah umount "$c" >/dev/null
  buildah rm "$c" >/dev/null
  if [ "$sum" = "$(sha256sum "$ca_bundle" | cut -d' ' -f1)" ]; then
    say "$1 contains the host's CA bundle; it must only be mounted during the build"
    return 1
  fi
}

# The tests' clock and fault switches live in test/ (test/support/operator-entry.ts) and must not ship:
# refuse an operator image whose files name any of them.
check_no_test_hooks() {
  local c m found
  c=$(buildah from --pull=never "$1")
  m=$(buildah mount "$c")
  found=$(grep -rlE 'TEST_CLOCK_FILE|CLOCK_OFFSET_FILE|JWTR_FAULT_|fileOffsetClock|ManualClock|faultSwitchFromEnv' \
    "$m/app/dist" "$m/app/package.json" 2>/dev/null | sed "s|^$m||" || true)
  buildah umount "$c" >/dev/null
  buildah rm "$c" >/dev/null
  if [ -n "$found" ]; then
    say "$1 ships test-only hooks in: $found"
    return 1
  fi
  say "$1: no test-only hooks in /app/dist (grep for TEST_CLOCK_FILE, CLOCK_OFFSET_FILE, JWTR_FAULT_, fileOffsetClock, ManualClock, faultSwitchFromEnv)"
}

image_size() { buildah images --format '{{.Size}}' "$1" 2>/dev/null | head -1; }

if [ "$what" = pause ]; then
  build_pause
  import_into_node pause
  exit 0
fi

# ca-certificates in the runtime base too: the build mounts the host's bundle over
# /etc/ssl/certs/ca-certificates.crt in every stage, and where that file does not exist the mount
# leaves an empty one behind in the image.
base node-runtime nodejs,ca-certificates
base node-build nodejs,npm,ca-certificates

build_app localhost/jwt-rotation-operator:dev "$repo/Dockerfile" "$repo" operator

# The consumer's context: only what its Dockerfile copies (the repository's .dockerignore is the
# operator's and leaves examples/ out).
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/examples" "$ctx/sdk"
cp "$repo/package.json" "$repo/package-lock.json" "$repo/tsconfig.json" "$ctx/"
cp -r "$repo/examples/consumer" "$ctx/examples/consumer"
cp -r "$repo/sdk/typescript" "$ctx/sdk/typescript" # the consumer kit it imports
rm -rf "$ctx/examples/consumer/dist" "$ctx/examples/consumer/node_modules" "$ctx/sdk/typescript/dist"
build_app localhost/jwt-consumer:dev "$ctx/examples/consumer/Dockerfile" "$ctx" consumer

# The Go kit's service: a static binary (CGO off, so no libc) alone in the image, as the pause image is.
build_consumer_go() {
  local t=$SECONDS bin=$img_cache/jwt-consumer-go c
  say "building localhost/jwt-consumer-go:dev from sdk/go/examples/server ..."
  (cd "$repo/sdk/go" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$bin.partial" ./examples/server)
  mv "$bin.partial" "$bin"
  c=$(buildah from scratch)
  buildah copy --chmod 0755 "$c" "$bin" /server >/dev/null
  buildah config --entrypoint '["/server"]' --user 65532:65532 --port 8080 \
    --label org.opencontainers.image.title=jwt-consumer-go "$c"
  buildah commit --quiet --rm "$c" localhost/jwt-consumer-go:dev >/dev/null
  save localhost/jwt-consumer-go:dev consumer-go
  say "built localhost/jwt-consumer-go:dev in $((SECONDS - t))s: $(image_size localhost/jwt-consumer-go:dev)"
}

# The Python kit's service: Debian's python3 with PyJWT, cryptography and prometheus_client, the kit's
# package and the server script (no pip: every package is Debian's).
build_consumer_python() {
  local t=$SECONDS src c
  say "building localhost/jwt-consumer-python:dev from sdk/python ..."
  src=$(mktemp -d)
  cp -r "$repo/sdk/python/src/jwt_consumer_kit" "$repo/sdk/python/examples/server.py" "$src/"
  find "$src" -name __pycache__ -prune -exec rm -rf {} +
  c=$(buildah from --pull=never localhost/python-runtime:trixie)
  buildah copy --chown 0:0 "$c" "$src" /app >/dev/null
  rm -rf "$src"
  buildah config --env PYTHONPATH=/app --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 \
    --workingdir /app --user 65532:65532 --port 8080 --cmd '["python3", "/app/server.py"]' \
    --label org.opencontainers.image.title=jwt-consumer-python "$c"
  buildah commit --quiet --rm "$c" localhost/jwt-consumer-python:dev >/dev/null
  save localhost/jwt-consumer-python:dev consumer-python
  say "built localhost/jwt-consumer-python:dev in $((SECONDS - t))s: $(image_size localhost/jwt-consumer-python:dev)"
}
base python-runtime python3,python3-jwt,python3-cryptography,python3-prometheus-client trixie '["python3"]' trixie
build_consumer_go
build_consumer_python
# Last: it waits for any Go build holding the build lock (tools/cluster/build.sh).
build_pause

import_into_node pause operator consumer consumer-go consumer-python
say "images ready in $((SECONDS - t_all))s:"
buildah images --format '  {{.Name}}:{{.Tag}}  {{.Size}}' | grep -E 'localhost/(jwt|jwtr-pause|node-|python-)' >&2 || true
