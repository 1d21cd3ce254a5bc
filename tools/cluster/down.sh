#!/usr/bin/env bash
# Stops the local control plane started by tools/cluster/up.sh (SIGTERM, then SIGKILL after
# STOP_GRACE_SECONDS, default 5) and deletes .cluster/ except .cluster/logs (kept for post-mortems;
# the next fresh up.sh clears them) and users/ (test runs registered as using the cluster, see
# test/support/cluster.ts). CLUSTER_PURGE=1 deletes everything. Idempotent.
# The real node (tools/cluster/node.sh), if this cluster runs it, goes first: its pods are deleted
# through kubelet, then kube-proxy, kubelet and containerd stop, the mounts, cgroups, kube-proxy's
# tables, the sysctls kubelet changed, the pods' network namespaces and the bridge are undone; the
# nftables guard is removed last, after everything else has stopped.
set -euo pipefail
# shellcheck source=tools/cluster/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"
# shellcheck source=tools/cluster/node.sh
source "$CLUSTER_TOOLS_DIR/node.sh"

t0=$(now_ms)
take_lock
check_cluster_dir

if [ ! -d "$CLUSTER_DIR" ]; then
  say "nothing to stop ($CLUSTER_DIR does not exist)"
  exit 0
fi

# Processes whose pid files were lost (e.g. .cluster/pids deleted by hand) are still recognisable:
# one of our binaries with this cluster directory on its command line. Record them, then stop
# everything in the usual order.
mkdir -p "$PID_DIR"
extra=()
for proc in /proc/[0-9]*; do
  pid=${proc#/proc/}
  exe=$(readlink "$proc/exe" 2>/dev/null) || continue
  name=$(basename "${exe% (deleted)}")
  case " ${COMPONENTS[*]} ${NODE_COMPONENTS[*]} " in *" $name "*) ;; *) continue ;; esac
  [ "$(pid_of "$name")" = "$pid" ] && continue
  tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF "$CLUSTER_DIR/" || continue
  say "found $name (pid $pid) without a pid file"
  if component_alive "$name"; then
    extra+=("$name:$pid") # a second instance: stopped after the recorded ones
  else
    echo "$pid" >"$PID_DIR/$name.pid"
  fi
done

owned_node=0
if node_owned; then
  owned_node=1
  node_stop || true # best effort: every step runs even if one fails
fi
stop_all
for e in "${extra[@]}"; do
  echo "${e#*:}" >"$PID_DIR/${e%%:*}.pid"
  stop_group "${e%%:*}"
done

if [ "${CLUSTER_PURGE:-}" = 1 ]; then
  rm -rf "$CLUSTER_DIR"
else
  find "$CLUSTER_DIR" -mindepth 1 -maxdepth 1 ! -name logs ! -name users -exec rm -rf {} +
fi
# Last: the guard, once nothing of the real node runs any more.
if [ "$owned_node" = 1 ]; then
  node_guard_remove
  rmdir "$NODE_RUN" 2>/dev/null || true
fi
say "control plane stopped and $CLUSTER_DIR cleaned in $(elapsed "$t0")"
