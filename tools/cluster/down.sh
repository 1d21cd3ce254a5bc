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

stop_all

# Processes whose pid files were lost (e.g. .cluster/pids deleted by hand) are still recognisable:
# one of our binaries with this checkout's .cluster directory on its command line.
for proc in /proc/[0-9]*; do
  pid=${proc#/proc/}
  exe=$(readlink "$proc/exe" 2>/dev/null) || continue
  name=$(basename "${exe% (deleted)}")
  case " ${COMPONENTS[*]} " in *" $name "*) ;; *) continue ;; esac
  tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF "$CLUSTER_DIR/" || continue
  say "stopping leftover $name (pid $pid)"
  echo "$pid" >"$PID_DIR/$name.pid" 2>/dev/null || { mkdir -p "$PID_DIR" && echo "$pid" >"$PID_DIR/$name.pid"; }
  stop_component "$name"
done

if [ "${CLUSTER_PURGE:-}" = 1 ]; then
  rm -rf "$CLUSTER_DIR"
else
  find "$CLUSTER_DIR" -mindepth 1 -maxdepth 1 ! -name logs ! -name users -exec rm -rf {} +
fi
say "control plane stopped and $CLUSTER_DIR cleaned in $(elapsed "$t0")"
