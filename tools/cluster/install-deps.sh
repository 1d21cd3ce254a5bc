#!/usr/bin/env bash
# Installs the Debian packages the local cluster's real node and the local image build need.
# Idempotent: packages already installed are left alone, and nothing is downloaded then.
#
#   containerd                  the container runtime (Debian's 1.6; kubelet 1.37 still accepts it)
#   runc                        the OCI runtime (needs cgo, so it comes from Debian; crun refuses
#                               this machine kind's hybrid cgroup layout)
#   containernetworking-plugins bridge, host-local and loopback CNI plugins (/usr/lib/cni)
#   nftables                    the network guard (tools/cluster/node.sh), and kube-proxy's nftables mode
#   iproute2                    ip link / ip netns for set-up and teardown
#   conntrack                   kube-proxy flushes stale UDP entries with it
#   buildah                     builds the images from the Dockerfile without a daemon
#   mmdebstrap                  makes the Node base rootfs from Debian packages
#   ca-certificates, curl, openssl
#
# Package postinst scripts must not start daemons (containerd would otherwise start with the
# packaged config, on the one socket our node uses): service starts are forbidden during the
# install with the standard policy-rc.d mechanism, as .ci/run does for prometheus.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(containerd runc containernetworking-plugins nftables iproute2 conntrack buildah mmdebstrap
  ca-certificates curl openssl)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then missing+=("$p"); fi
done
if [ "${#missing[@]}" = 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed" >&2
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-deps: missing ${missing[*]}; run as root (apt-get install)" >&2; exit 1; }

echo "install-deps: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
backup=
if [ -e "$policy" ]; then
  backup=$(mktemp)
  cp -p "$policy" "$backup"
fi
restore_policy() { if [ -n "$backup" ]; then mv "$backup" "$policy"; else rm -f "$policy"; fi; }
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

# An apt-get update only when the lists have never been fetched (CI runs it before us anyway).
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
  apt-get update
fi
apt-get install -y --no-install-recommends "${missing[@]}"

# A containerd started by the package anyway (a machine with systemd) would hold the socket.
if [ -d /run/systemd/system ]; then systemctl disable --now containerd.service 2>/dev/null || true; fi
echo "install-deps: done ($(containerd --version 2>/dev/null | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'))" >&2
