#!/usr/bin/env bash
# Starts the local Kubernetes control plane used by the integration tests:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one fake Node), all on
# 127.0.0.1 with free ports, everything under <repo>/.cluster, and a real node (containerd, kubelet,
# kube-proxy; tools/cluster/node.sh) whose pods live on the bridge jwtr0 behind an nftables guard.
# See docs/local-control-plane.md.
#
# Idempotent: if a cluster started by this script is running and healthy, it is reused (exit 0).
# Progress goes to stderr; the only stdout line is "started <url>" or "reused <url>".
# Environment:
#   CLUSTER_BIN_DIR=<dir>        use the binaries in <dir> instead of running tools/cluster/build.sh
#   CLUSTER_KEEP_ON_FAILURE=1    leave the processes running when start-up fails (for debugging)
#   CLUSTER_START_TIMEOUT=<s>    per-step wait limit in seconds (default 90)
#   CLUSTER_DIR=<dir>            where the cluster lives (default <repo>/.cluster)
#   CLUSTER_UP_BY_TESTS=1        set by test/support/cluster.ts: marks a cluster it starts as
#                                started-by-tests (so the last test run using it stops it)
#   CLUSTER_REAL_NODE=0          no real node (kwok only): for machines that cannot run one
#                                (not root, no cgroups, or another worktree's real node is running);
#                                =1 requires it; unset starts it when the machine has what it needs
#   CLUSTER_NODE_BIN_DIR=<dir>   kubelet and kube-proxy from <dir> instead of tools/cluster/build-node.sh
#   CLUSTER_AUDIT=1              the API server writes an audit log (logs/audit.log, JSON, one line per
#                                request) of the requests ServiceAccounts make: the scale bench runs the
#                                operator as one, to count its requests apart from kwok's and the controllers'
#   CLUSTER_KCM_QPS=<n>          kube-controller-manager's client limit (--kube-api-qps; default 20) and
#   CLUSTER_KCM_BURST=<n>        burst (default the QPS): a fleet's rollouts at N=10,000 are paced by it
#   CLUSTER_KCM_SYNCS=<n>        kube-controller-manager's Deployment and ReplicaSet workers
#                                (--concurrent-deployment-syncs, --concurrent-replicaset-syncs; default 5 each)
set -euo pipefail
# shellcheck source=tools/cluster/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"
# shellcheck source=tools/cluster/node.sh
source "$CLUSTER_TOOLS_DIR/node.sh"

t0=$(now_ms)
step_timeout=${CLUSTER_START_TIMEOUT:-90}
command -v curl >/dev/null || { say "curl is required (apt-get install -y curl)"; exit 1; }
command -v openssl >/dev/null || { say "openssl is required (apt-get install -y openssl)"; exit 1; }
take_lock
check_cluster_dir
if [ "$REAL_NODE" != 0 ]; then
  missing=$(node_prerequisites_missing)
  if [ -z "$missing" ]; then
    REAL_NODE=1
  elif [ "$REAL_NODE" = 1 ]; then
    say "the real node needs: $missing"
    say "  install the packages with tools/cluster/install-deps.sh (as root), or start without it: CLUSTER_REAL_NODE=0"
    exit 1
  else
    say "WARNING: no real node (it needs: $missing); pods run on kwok only."
    say "  tools/cluster/install-deps.sh (as root) installs what it needs; CLUSTER_REAL_NODE=0 silences this."
    REAL_NODE=0
  fi
fi

# ---------------------------------------------------------------------------------------------
# Reuse a running cluster.
api_ready() { # api_ready <port>
  curl -fsS --max-time 5 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
    "https://127.0.0.1:$1/readyz" 2>/dev/null | grep -qx ok
}

if [ -f "$STATE_FILE" ]; then
  # shellcheck source=/dev/null
  source "$STATE_FILE"
  alive=1
  for c in "${COMPONENTS[@]}"; do component_alive "$c" || { alive=0; say "$c is not running"; }; done
  if [ "${REAL_NODE_RUNNING:-0}" != "$REAL_NODE" ]; then
    alive=0
    say "the running cluster has CLUSTER_REAL_NODE=${REAL_NODE_RUNNING:-0}; this call asks for $REAL_NODE"
  elif [ "$REAL_NODE" = 1 ]; then
    for c in "${NODE_COMPONENTS[@]}"; do component_alive "$c" || { alive=0; say "$c is not running"; }; done
    nft list table inet "$GUARD_TABLE" >/dev/null 2>&1 || { alive=0; say "the nftables guard is missing"; }
  fi
  if [ "$alive" = 1 ] && api_ready "${API_PORT:-0}"; then
    say "already running: https://127.0.0.1:$API_PORT (reused in $(elapsed "$t0"))"
    if [ "${CLUSTER_UP_BY_TESTS:-}" != 1 ] && [ -e "$CLUSTER_DIR/started-by-tests" ]; then
      rm -f "$CLUSTER_DIR/started-by-tests"
      say "(it was started by a test run; now it is yours: test runs will leave it running)"
    fi
    say "kubeconfig: $KUBECONFIG_FILE"
    echo "reused https://127.0.0.1:$API_PORT"
    exit 0
  fi
  say "found a stale or unhealthy cluster in $CLUSTER_DIR; stopping it and starting afresh"
fi
if node_owned; then
  node_stop || true # best effort: every step runs even if one fails
  stop_all
  node_guard_remove
fi
stop_all
if [ "$REAL_NODE" = 1 ]; then node_claim; fi

# ---------------------------------------------------------------------------------------------
# Binaries.
if [ -n "${CLUSTER_BIN_DIR:-}" ]; then
  bin_src=$(cd "$CLUSTER_BIN_DIR" && pwd -P)
  say "using binaries from CLUSTER_BIN_DIR=$bin_src"
else
  say "building/locating binaries (tools/cluster/build.sh) ..."
  bin_src=$(bash "$CLUSTER_TOOLS_DIR/build.sh" | tail -n 1)
fi
for c in "${COMPONENTS[@]}" kubectl; do
  [ -x "$bin_src/$c" ] || { say "missing binary $bin_src/$c"; exit 1; }
done
# A binary that cannot even print its version (e.g. built with an empty -X ...gitVersion=, which
# panics in an init()) would otherwise only show up as a crash in its log.
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  flag=--version
  [ "$c" = kubectl ] && flag="version --client"
  # shellcheck disable=SC2086
  if ! out=$("$bin_src/$c" $flag 2>&1); then
    say "$bin_src/$c does not run:"
    printf '%s\n' "$out" | head -n 5 >&2
    say "(an empty version string means build.sh passed an empty k8s version to -ldflags -X)"
    exit 1
  fi
done

# Keep users/ (test runs that are using or about to use the cluster; see test/support/cluster.ts).
if [ -d "$CLUSTER_DIR" ]; then
  find "$CLUSTER_DIR" -mindepth 1 -maxdepth 1 ! -name users -exec rm -rf {} +
fi
mkdir -p "$CLUSTER_DIR/bin" "$PID_DIR" "$LOG_DIR" "$PKI_DIR" "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/kwok"
if [ "$REAL_NODE" = 1 ]; then mkdir -p "$NODE_DIR"; fi
chmod 700 "$CLUSTER_DIR/etcd" "$PKI_DIR"
for c in "${COMPONENTS[@]}" kubectl; do ln -s "$bin_src/$c" "$CLUSTER_DIR/bin/$c"; done
BIN=$CLUSTER_DIR/bin
KUBECTL=("$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE")

# ---------------------------------------------------------------------------------------------
# Failure handling: show the log of what failed, stop whatever was started.
started_ok=0
failed_component=
on_exit() {
  local rc=$?
  if [ "$started_ok" != 1 ]; then
    [ -n "$failed_component" ] && show_log_tail "$failed_component" 40
    if [ "${CLUSTER_KEEP_ON_FAILURE:-}" = 1 ]; then
      say "start-up failed; CLUSTER_KEEP_ON_FAILURE=1 so processes are left running"
    else
      say "start-up failed; stopping what was started (logs stay in $LOG_DIR)"
      if [ "$REAL_NODE" = 1 ] && node_owned; then node_stop || true; fi
      stop_all
      if [ "$REAL_NODE" = 1 ]; then node_guard_remove; fi
      rm -f "$STATE_FILE"
    fi
    [ "$rc" = 0 ] && rc=1
  fi
  exit "$rc"
}
trap on_exit EXIT

# ---------------------------------------------------------------------------------------------
# Ports: ask the kernel for free loopback ports (all held open at once, so they are distinct).
read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT < <(
  node -e '
    const net = require("net");
    const n = Number(process.argv[1]);
    const servers = [];
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      s.listen(0, "127.0.0.1", () => {
        servers.push(s);
        if (servers.length === n) {
          console.log(servers.map((x) => x.address().port).join(" "));
          servers.forEach((x) => x.close());
        }
      });
    }' 5
)
cat >"$STATE_FILE" <<EOF
# written by tools/cluster/up.sh
API_PORT=$API_PORT
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
KCM_PORT=$KCM_PORT
SCHED_PORT=$SCHED_PORT
BIN_SRC=$bin_src
API_SERVER=https://127.0.0.1:$API_PORT
REAL_NODE_RUNNING=$REAL_NODE
EOF

# The network guard and the bridge come first: before any component (the API server binds to all
# addresses when pods must reach it) and before any pod exists.
if [ "$REAL_NODE" = 1 ]; then
  node_guard_install "$API_PORT" || exit 1
fi

# ---------------------------------------------------------------------------------------------
# PKI: one CA signs the apiserver serving cert and the client certs; a separate RSA key pair
# signs service-account tokens.
t_pki=$(now_ms)
ossl() { openssl "$@" 2>>"$LOG_DIR/openssl.log"; }
new_ca() { # new_ca <name> <CN>
  ossl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI_DIR/$1.key" -out "$PKI_DIR/$1.crt" -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
}
new_ca ca jwtr-local-ca
# The aggregation layer's front proxy (and the components' delegated authentication, which
# insists on a request-header CA) get their own CA.
new_ca front-proxy-ca jwtr-local-front-proxy-ca

issue() { # issue <name> <subject> <extendedKeyUsage> [subjectAltName] [CA name]
  local name=$1 subj=$2 eku=$3 san=${4:-} ca=${5:-ca}
  ossl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI_DIR/$name.key" -out "$PKI_DIR/$name.csr" -subj "$subj"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$PKI_DIR/$name.ext"
  ossl x509 -req -in "$PKI_DIR/$name.csr" -CA "$PKI_DIR/$ca.crt" -CAkey "$PKI_DIR/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$PKI_DIR/$name.ext" -out "$PKI_DIR/$name.crt"
  rm -f "$PKI_DIR/$name.csr" "$PKI_DIR/$name.ext"
}
apiserver_san="IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
if [ "$REAL_NODE" = 1 ]; then apiserver_san+=",IP:$BRIDGE_IP"; fi
issue apiserver "/CN=kube-apiserver" serverAuth "$apiserver_san"
# Admin: the system:masters group bypasses RBAC. The components get their own names (for audit and
# logs) but also system:masters, since --use-service-account-credentials=false runs every
# controller under the controller-manager's own identity.
issue admin "/O=system:masters/CN=jwtr-admin" clientAuth
issue kube-controller-manager "/O=system:masters/CN=system:kube-controller-manager" clientAuth
issue kube-scheduler "/O=system:masters/CN=system:kube-scheduler" clientAuth
issue kwok "/O=system:masters/CN=kwok-controller" clientAuth
issue front-proxy-client "/CN=front-proxy-client" clientAuth "" front-proxy-ca
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI_DIR/sa.key"
ossl pkey -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub"
chmod 600 "$PKI_DIR"/*.key

b64() { base64 -w0 <"$1"; }
write_kubeconfig() { # write_kubeconfig <file> <cert name>
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: jwtr-local
    cluster:
      server: https://127.0.0.1:$API_PORT
      certificate-authority-data: $(b64 "$PKI_DIR/ca.crt")
users:
  - name: $2
    user:
      client-certificate-data: $(b64 "$PKI_DIR/$2.crt")
      client-key-data: $(b64 "$PKI_DIR/$2.key")
contexts:
  - name: jwtr-local
    context:
      cluster: jwtr-local
      user: $2
      namespace: default
current-context: jwtr-local
EOF
  chmod 600 "$1"
}
write_kubeconfig "$KUBECONFIG_FILE" admin
for c in kube-controller-manager kube-scheduler kwok; do write_kubeconfig "$CLUSTER_DIR/$c.kubeconfig" "$c"; done
# The real node's identities, and the API server's client certificate towards the kubelet.
if [ "$REAL_NODE" = 1 ]; then node_issue_certs; fi
say "generated PKI and kubeconfigs in $(elapsed "$t_pki")"

# ---------------------------------------------------------------------------------------------
# Process management.
start_component() { # start_component <name> <args...>; runs $BIN/<name> detached (own session)
  local name=$1 i
  shift
  : >"$LOG_DIR/$name.log"
  # The wrapper shell writes its own pid and then execs the binary, so the pid file holds the
  # binary's pid. setsid: own session, so no SIGHUP/SIGINT from the terminal or test runner.
  # Redirecting all of stdin/stdout/stderr matters: a caller reading our output (npm, node's
  # child_process) would otherwise wait for the daemons to exit. 9>&- drops the lock fd.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_DIR/$name.pid" "$BIN/$name" "$@" \
    </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&- &
  for ((i = 0; i < 50; i++)); do
    [ -s "$PID_DIR/$name.pid" ] && break
    sleep 0.1
  done
  say "started $name (pid $(pid_of "$name"), log $LOG_DIR/$name.log)"
}

# wait_until <component> <description> <command...>: polls the command every 0.25 s for up to
# $step_timeout seconds; fails early (with the component's log) if the component exits.
wait_until() {
  local name=$1 what=$2 deadline
  shift 2
  deadline=$(($(now_ms) + step_timeout * 1000))
  while ! "$@" >/dev/null 2>&1; do
    if ! component_alive "$name"; then
      failed_component=$name
      say "$name exited while waiting for: $what"
      return 1
    fi
    if (($(now_ms) > deadline)); then
      failed_component=$name
      say "timed out after ${step_timeout}s waiting for: $what"
      return 1
    fi
    sleep 0.25
  done
}

http_ok() { curl -fsS --max-time 3 "$@" 2>/dev/null | grep -qE '^ok$|"health": ?"true"'; }

# ---------------------------------------------------------------------------------------------
# etcd
t_step=$(now_ms)
start_component etcd \
  --name=jwtr-local \
  --data-dir="$CLUSTER_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="jwtr-local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync \
  --log-level=warn
wait_until etcd "etcd /health" http_ok "http://127.0.0.1:$ETCD_PORT/health"
say "etcd healthy on 127.0.0.1:$ETCD_PORT ($(elapsed "$t_step"))"

# ---------------------------------------------------------------------------------------------
# kube-apiserver
t_step=$(now_ms)
if [ "$REAL_NODE" = 1 ]; then
  # Pods reach the API server through the kubernetes Service, whose endpoint is the bridge address;
  # the guard refuses its port on every interface but loopback and the bridge. The API server
  # reaches the kubelet by its InternalIP on the bridge, never through a name lookup.
  apiserver_net=(
    --bind-address=0.0.0.0
    --advertise-address="$BRIDGE_IP"
    --endpoint-reconciler-type=lease
    --kubelet-preferred-address-types=InternalIP
    --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt"
    --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key"
  )
else
  apiserver_net=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none)
fi
audit_flags=()
if [ "${CLUSTER_AUDIT:-0}" = 1 ]; then
  # Metadata only (who, verb, resource, namespace, name, code), at completion: one line per request.
  # Only ServiceAccounts: the components and the tests' admin use certificates and are not logged.
  cat >"$CLUSTER_DIR/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
    userGroups: ['system:serviceaccounts']
  - level: None
POLICY
  audit_flags=(
    --audit-policy-file="$CLUSTER_DIR/audit-policy.yaml"
    --audit-log-path="$LOG_DIR/audit.log"
    --audit-log-format=json
    --audit-log-maxsize=2048
    --audit-log-maxbackup=1
  )
fi
start_component kube-apiserver \
  "${audit_flags[@]}" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  "${apiserver_net[@]}" \
  --secure-port="$API_PORT" \
  --tls-cert-file="$PKI_DIR/apiserver.crt" \
  --tls-private-key-file="$PKI_DIR/apiserver.key" \
  --client-ca-file="$PKI_DIR/ca.crt" \
  --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI_DIR/sa.pub" \
  --service-account-signing-key-file="$PKI_DIR/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --allow-privileged=true \
  --disable-admission-plugins=TaintNodesByCondition \
  --requestheader-client-ca-file="$PKI_DIR/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI_DIR/front-proxy-client.crt" \
  --proxy-client-key-file="$PKI_DIR/front-proxy-client.key" \
  --profiling=false \
  --v=1
wait_until kube-apiserver "kube-apiserver /readyz" api_ready "$API_PORT"
say "kube-apiserver ready on https://127.0.0.1:$API_PORT ($(elapsed "$t_step"))"

# ---------------------------------------------------------------------------------------------
# kube-controller-manager, kube-scheduler, kwok
t_step=$(now_ms)
# Only what a workload needs (no cloud, node IPAM/lifecycle, volumes or CSR signing). Node
# lifecycle is off so nothing ever taints or evicts the fake node; kwok owns its status.
controllers=(
  namespace-controller
  garbage-collector-controller
  deployment-controller
  replicaset-controller
  statefulset-controller
  daemonset-controller
  job-controller
  cronjob-controller
  ttl-after-finished-controller
  disruption-controller
  endpointslice-controller
  endpointslice-mirroring-controller
  pod-garbage-collector-controller
  resourcequota-controller
  serviceaccount-controller
  serviceaccount-token-controller
  root-ca-certificate-publisher-controller
  clusterrole-aggregation-controller
)
kcm_kc=$CLUSTER_DIR/kube-controller-manager.kubeconfig
start_component kube-controller-manager \
  --kubeconfig="$kcm_kc" \
  --authentication-kubeconfig="$kcm_kc" \
  --authorization-kubeconfig="$kcm_kc" \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --use-service-account-credentials=false \
  --controllers="$(IFS=,; echo "${controllers[*]}")" \
  --service-account-private-key-file="$PKI_DIR/sa.key" \
  --root-ca-file="$PKI_DIR/ca.crt" \
  --cluster-name=jwtr-local \
  --profiling=false \
  ${CLUSTER_KCM_QPS:+--kube-api-qps="$CLUSTER_KCM_QPS" --kube-api-burst="${CLUSTER_KCM_BURST:-$CLUSTER_KCM_QPS}"} \
  ${CLUSTER_KCM_SYNCS:+--concurrent-deployment-syncs="$CLUSTER_KCM_SYNCS" --concurrent-replicaset-syncs="$CLUSTER_KCM_SYNCS"} \
  --v=1

sched_kc=$CLUSTER_DIR/kube-scheduler.kubeconfig
start_component kube-scheduler \
  --kubeconfig="$sched_kc" \
  --authentication-kubeconfig="$sched_kc" \
  --authorization-kubeconfig="$sched_kc" \
  --bind-address=127.0.0.1 \
  --secure-port="$SCHED_PORT" \
  --leader-elect=false \
  --profiling=false \
  --v=1

# kwok reads ~/.kwok/kwok.yaml if present; point its work dir into .cluster so a developer's
# own kwok configuration cannot change the stages.
export KWOK_WORKDIR=$CLUSTER_DIR/kwok
start_component kwok \
  --kubeconfig="$CLUSTER_DIR/kwok.kubeconfig" \
  --config="$CLUSTER_TOOLS_DIR/kwok-stages.yaml" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --manage-nodes-with-label-selector= \
  --disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom \
  --disregard-status-with-label-selector= \
  --cidr=10.0.0.1/24 \
  --node-ip=10.0.0.1 \
  --node-lease-duration-seconds=40

# The fake node. kwok only manages Nodes annotated kwok.x-k8s.io/node=fake.
node_created() { "${KUBECTL[@]}" create -f "$CLUSTER_TOOLS_DIR/kwok-node.yaml"; }
wait_until kube-apiserver "creating Node $NODE_NAME" node_created
# Before any Pod exists: only localhost/ images may run, so no image pull can leave the machine.
images_guarded() { "${KUBECTL[@]}" apply -f "$CLUSTER_TOOLS_DIR/local-images-only.yaml"; }
wait_until kube-apiserver "the local-images-only admission policy" images_guarded

wait_until kube-controller-manager "kube-controller-manager /healthz" http_ok -k "https://127.0.0.1:$KCM_PORT/healthz"
wait_until kube-scheduler "kube-scheduler /healthz" http_ok -k "https://127.0.0.1:$SCHED_PORT/healthz"
node_ready() {
  [ "$("${KUBECTL[@]}" get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_until kwok "Node $NODE_NAME Ready (kwok)" node_ready
# Pods are only admitted once their namespace's ServiceAccount exists (ServiceAccount admission
# is on and the serviceaccount controller creates "default" in every namespace).
sa_exists() { "${KUBECTL[@]}" -n default get serviceaccount default; }
wait_until kube-controller-manager "ServiceAccount default/default" sa_exists
say "controllers, scheduler and kwok ready ($(elapsed "$t_step"))"

# ---------------------------------------------------------------------------------------------
# The real node (tools/cluster/node.sh): containerd, kubelet, kube-proxy.
if [ "$REAL_NODE" = 1 ]; then node_start; fi

started_ok=1
# Test runs stop a cluster that a test run started once the last of them is done; one started
# by hand (npm run cluster:up) is left alone.
if [ "${CLUSTER_UP_BY_TESTS:-}" = 1 ]; then : >"$CLUSTER_DIR/started-by-tests"; fi
say "control plane up in $(elapsed "$t0"): https://127.0.0.1:$API_PORT"
say "  export KUBECONFIG=$KUBECONFIG_FILE"
say "  $BIN/kubectl get nodes"
echo "started https://127.0.0.1:$API_PORT"
