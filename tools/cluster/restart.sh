#!/usr/bin/env bash
# Stops one component of the running local control plane and starts it again with the exact same
# command line and environment (read from /proc/<pid>/cmdline and /proc/<pid>/environ before it
# is stopped), as an API server upgrade or an etcd restart does in a real cluster. Its data
# (.cluster/etcd), ports and certificates are kept; its log is appended to.
#
#   tools/cluster/restart.sh <etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kwok> [down-seconds]
#
# down-seconds (default 0): how long the component stays down before it is started again.
# KILL_SIGNAL=KILL kills it instead of SIGTERM (a crash rather than a graceful shutdown).
# Waits until it is healthy again (etcd /health, kube-apiserver /readyz; the others: alive) and
# prints "restarted <component> <ms down>" on stdout. See docs/local-control-plane.md.
set -euo pipefail
# shellcheck source=tools/cluster/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

name=${1:-}
down_seconds=${2:-0}
case " ${COMPONENTS[*]} " in *" $name "*) ;; *)
  say "usage: $0 <${COMPONENTS[*]}> [down-seconds]"
  exit 2
  ;;
esac
[ -f "$STATE_FILE" ] || { say "no running cluster in $CLUSTER_DIR (run npm run cluster:up)"; exit 1; }
# shellcheck source=/dev/null
source "$STATE_FILE"
take_lock

pid=$(pid_of "$name")
pid_is "$pid" "$name" || { say "$name is not running"; exit 1; }
# The command line and environment, NUL-separated, exactly as up.sh started it.
mapfile -d '' argv <"/proc/$pid/cmdline"
mapfile -d '' envv <"/proc/$pid/environ"
[ "${#argv[@]}" -gt 0 ] || { say "cannot read the command line of $name (pid $pid)"; exit 1; }

t0=$(now_ms)
if [ "${KILL_SIGNAL:-TERM}" = KILL ]; then
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do pid_is "$pid" "$name" || break; sleep 0.1; done
  rm -f "$PID_DIR/$name.pid"
  say "killed $name (pid $pid)"
else
  stop_group "$name"
fi
sleep "$down_seconds"

# As up.sh's start_component: own session, the pid file holds the binary's pid, no fd 9 (the lock).
printf '%s\n' "--- restarted by tools/cluster/restart.sh at $(date -u +%FT%TZ) ---" >>"$LOG_DIR/$name.log"
setsid env -i "${envv[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$PID_DIR/$name.pid" "${argv[@]}" \
  </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&- &
for ((i = 0; i < 50; i++)); do
  [ -s "$PID_DIR/$name.pid" ] && break
  sleep 0.1
done

healthy() {
  case $name in
    etcd) curl -fsS --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health": *"true"' ;;
    kube-apiserver)
      curl -fsS --max-time 3 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
        "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null | grep -qx ok
      ;;
    *) component_alive "$name" ;;
  esac
}
deadline=$(($(now_ms) + ${CLUSTER_START_TIMEOUT:-90} * 1000))
until healthy; do
  if ! component_alive "$name"; then
    say "$name exited after the restart"
    show_log_tail "$name" 30
    exit 1
  fi
  if (($(now_ms) > deadline)); then
    say "timed out waiting for $name to become healthy"
    exit 1
  fi
  sleep 0.1
done
down_ms=$(($(now_ms) - t0))
say "restarted $name (pid $(pid_of "$name")), down for ${down_ms} ms"
echo "restarted $name $down_ms"
