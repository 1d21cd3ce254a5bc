#!/usr/bin/env bash
# Stops the local control plane started by tools/cluster/up.sh (SIGTERM, then SIGKILL after
# STOP_GRACE_SECONDS, default 5) and deletes .cluster/ except .cluster/logs (kept for post-mortems;
# the next fresh up.sh clears them) and users/ (test runs registered as using the cluster, see
# test/support/cluster.ts). CLUSTER_PURGE=1 deletes everything. Idempotent.
set -euo pipefail
# shellcheck source=tools/cluster/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

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
  case " ${COMPONENTS[*]} " in *" $name "*) ;; *) continue ;; esac
  [ "$(pid_of "$name")" = "$pid" ] && continue
  tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF "$CLUSTER_DIR/" || continue
  say "found $name (pid $pid) without a pid file"
  if component_alive "$name"; then
    extra+=("$name:$pid") # a second instance: stopped after the recorded ones
  else
    echo "$pid" >"$PID_DIR/$name.pid"
  fi
done

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
say "control plane stopped and $CLUSTER_DIR cleaned in $(elapsed "$t0")"
