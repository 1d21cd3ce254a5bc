# shellcheck shell=bash
# The real node of the local cluster: containerd, kubelet and kube-proxy running real containers on
# this machine, next to the kwok node. Sourced by up.sh and down.sh (after lib.sh). See
# docs/local-control-plane.md, "The real node".
#
# The network rule: test traffic goes only to loopback and to the pods' own network namespaces.
#   - Before anything starts, node_guard_install loads the nftables table "inet jwtr_guard": pod
#     traffic may leave only by the bridge, nothing from outside reaches the pods, the host sends
#     nothing for the pod or Service ranges anywhere but the bridge, and the API server's and the
#     node's ports answer only on loopback and the bridge. node_guard_remove deletes it, last.
#   - Pods: bridge "jwtr0" + host-local, 10.244.0.0/24, no uplink, no NAT, no default route (only a
#     route to the Service range, via the bridge). Their resolv.conf names no server off the machine.
#   - The API server reaches the kubelet by its InternalIP (the bridge address), never by name.
#
# One real node per machine: fixed ports (10250, 10248, 10256, 10249), one containerd socket and one
# bridge. $NODE_RUN/owner names the cluster directory that runs it; up.sh refuses to start a second.
# Everything else lives in $CLUSTER_DIR/node (containerd's root, kubelet's root, configs, pod logs).

# 1: required; 0: left out; unset: started when this machine can run it (root, the Debian packages), else
# left out with a warning (the e2e tier then fails and says why, unless CLUSTER_REAL_NODE=0).
REAL_NODE=${CLUSTER_REAL_NODE:-auto}
REAL_NODE_NAME=jwtr-node-0
NODE_RUN=/run/jwtr-node
NODE_SOCK=$NODE_RUN/containerd.sock
NODE_DIR=$CLUSTER_DIR/node
BRIDGE=jwtr0
BRIDGE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
GUARD_TABLE=jwtr_guard
NODE_PORTS=(10250 10248 10256 10249) # kubelet, kubelet healthz, kube-proxy healthz, kube-proxy metrics
NODE_COMPONENTS=(containerd kubelet kube-proxy)
PAUSE_IMAGE=localhost/jwtr-pause:1
# Host paths that kubelet, containerd's CNI library or the CRI plugin create whatever their settings
# (kubelet's device-plugin socket, libcni's result cache, kubelet's log links, netns mounts): the
# ones that did not exist before the node started are removed by node_stop, and in the others only
# what the node put there.
NODE_HOST_PATHS=(/var/lib/kubelet /var/lib/cni /var/log/containers /run/netns)
# Sysctls that kubelet (vm.*, kernel.*), the bridge plugin (ip_forward) or kube-proxy may change;
# recorded before the node starts and put back by node_stop.
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait
  net.netfilter.nf_conntrack_tcp_be_liberal)

node_cache_root() { echo "${JWTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jwt-rotation-operator}"; }

# Why the real node cannot run here, or nothing.
node_prerequisites_missing() {
  local missing=() c
  [ "$(id -u)" = 0 ] || missing+=("root (kubelet and containerd need it)")
  for c in nft ip containerd ctr /usr/sbin/runc /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback buildah; do
    command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || missing+=("$c")
  done
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || missing+=("cgroups")
  [ "${#missing[@]}" = 0 ] || echo "${missing[*]}"
}

# The cluster directory whose real node is running, if any (its containerd or kubelet is alive).
node_running_owner() {
  local owner pid
  [ -s "$NODE_RUN/owner" ] || return 0
  owner=$(cat "$NODE_RUN/owner")
  for c in containerd kubelet kube-proxy; do
    pid=$(tr -dc '0-9' <"$owner/pids/$c.pid" 2>/dev/null || true)
    if pid_is "$pid" "$c"; then
      echo "$owner"
      return 0
    fi
  done
}

# Refuses (exit 1) if another worktree's real node is running.
node_claim() {
  local other
  other=$(node_running_owner)
  if [ -n "$other" ] && [ "$other" != "$CLUSTER_DIR" ]; then
    say "another cluster's real node is running on this machine: $other"
    say "  only one real node fits on a machine (fixed ports 10250/10248/10256, one containerd socket, one bridge)."
    say "  Stop it there (npm run cluster:down in $(dirname "$other")), or start this cluster without one:"
    say "  CLUSTER_REAL_NODE=0 npm run cluster:up"
    exit 1
  fi
  if [ -s "$NODE_RUN/owner" ] && [ "$(cat "$NODE_RUN/owner")" != "$CLUSTER_DIR" ]; then
    say "taking over the real node left behind (not running) by $(cat "$NODE_RUN/owner")"
  fi
  mkdir -p "$NODE_RUN"
  chmod 700 "$NODE_RUN"
  echo "$CLUSTER_DIR" >"$NODE_RUN/owner"
}

node_owned() { [ -s "$NODE_RUN/owner" ] && [ "$(cat "$NODE_RUN/owner")" = "$CLUSTER_DIR" ]; }

# ---------------------------------------------------------------------------------------------
# The guard and the bridge: installed before anything starts.
node_guard_rules() { # node_guard_rules <api port>
  local ports
  ports=$(IFS=,; echo "${NODE_PORTS[*]},$1")
  cat <<EOF
table inet $GUARD_TABLE {
	comment "jwt-rotation-operator real node: pod traffic stays on this machine (tools/cluster/node.sh)"
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		ip saddr $POD_CIDR oifname != "$BRIDGE" counter drop comment "pods leave only by the bridge"
		iifname "$BRIDGE" oifname != "$BRIDGE" counter drop comment "nothing is routed out of the pod network"
		ip daddr $POD_CIDR iifname != "$BRIDGE" counter drop comment "nothing from outside reaches the pods"
	}
	chain output {
		type filter hook output priority filter - 10; policy accept;
		ip daddr { $POD_CIDR, $SERVICE_CIDR } oifname != { "lo", "$BRIDGE" } counter drop comment "cluster addresses never leave by the uplink"
	}
	chain input {
		type filter hook input priority filter - 10; policy accept;
		iifname != { "lo", "$BRIDGE" } tcp dport { $ports } counter drop comment "API server and node ports: loopback and bridge only"
	}
}
EOF
}

node_record_sysctls() {
  # Only the first recording counts: a retried up.sh must not record values kubelet already changed.
  [ -s "$NODE_RUN/sysctls.before" ] && return 0
  local s v
  for s in "${NODE_SYSCTLS[@]}"; do
    v=$(sysctl -n "$s" 2>/dev/null) || continue
    printf '%s=%s\n' "$s" "$v"
  done >"$NODE_RUN/sysctls.before"
  ls -1 /run/netns 2>/dev/null | sort >"$NODE_RUN/netns.before" || true
  local p
  for p in "${NODE_HOST_PATHS[@]}"; do [ -e "$p" ] && echo "$p"; done >"$NODE_RUN/paths.before"
}

node_path_existed() { grep -qxF "$1" "$NODE_RUN/paths.before" 2>/dev/null; }

node_guard_install() { # node_guard_install <api port>
  node_record_sysctls
  nft delete table inet "$GUARD_TABLE" 2>/dev/null || true
  node_guard_rules "$1" | nft -f - || { say "cannot load the nftables guard"; return 1; }
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$BRIDGE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  say "nftables guard inet $GUARD_TABLE loaded; bridge $BRIDGE at $BRIDGE_IP/24"
}

node_guard_remove() {
  if nft list table inet "$GUARD_TABLE" >/dev/null 2>&1; then
    nft delete table inet "$GUARD_TABLE"
    say "nftables guard removed"
  fi
}

# ---------------------------------------------------------------------------------------------
# Start-up (called by up.sh, with its variables and functions: PKI_DIR, issue, write_kubeconfig ...)
node_issue_certs() { # with the rest of the PKI, before the API server starts
  issue kubelet "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" clientAuth
  issue kubelet-serving "/CN=$REAL_NODE_NAME" serverAuth "IP:$BRIDGE_IP,DNS:$REAL_NODE_NAME"
  issue kube-proxy "/CN=system:kube-proxy" clientAuth
  # The API server's client certificate towards the kubelet (logs, exec, port-forward).
  issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  chmod 600 "$PKI_DIR"/*.key
  write_kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" kubelet
  write_kubeconfig "$CLUSTER_DIR/kube-proxy.kubeconfig" kube-proxy
}

node_write_configs() {
  local hard_nofile
  mkdir -p "$NODE_DIR"/{containerd,kubelet,pod-logs,volume-plugins,opt,cni/net.d,cni/ipam}
  # No server that leads off the machine: lookups in pods fail at once instead of leaking.
  cat >"$NODE_DIR/resolv.conf" <<'EOF'
# Pods of the local real node have no DNS (tools/cluster/node.sh): nothing resolves through the host's resolver.
nameserver 127.0.0.1
options timeout:1 attempts:1
EOF
  cat >"$NODE_DIR/cni/net.d/10-jwtr.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "jwtr",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP" }]],
        "routes": [{ "dst": "$SERVICE_CIDR" }],
        "dataDir": "$NODE_DIR/cni/ipam"
      }
    }
  ]
}
EOF
  cat >"$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd"
state = "$NODE_RUN/containerd"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$NODE_SOCK"

[ttrpc]
  address = "$NODE_RUN/containerd.sock.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  # Built locally and imported (tools/images/build.sh): nothing can be pulled.
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE on this machine kind: without this every sandbox fails to start.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
EOF
  hard_nofile=$(ulimit -Hn)
  [ "$hard_nofile" = unlimited ] && hard_nofile=1000000
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Serves on the bridge address only (the API server's InternalIP route); healthz on loopback.
address: $BRIDGE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $PKI_DIR/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI_DIR/ca.crt }
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$NODE_SOCK
# This machine kind: cgroup v1, no systemd, no CAP_SYS_RESOURCE, no swap accounting, no registry.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
maxOpenFiles: $hard_nofile
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 1%
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
# Otherwise kubelet adds jumps to the host's INPUT and OUTPUT chains.
makeIPTablesUtilChains: false
resolvConf: $NODE_DIR/resolv.conf
podLogsDir: $NODE_DIR/pod-logs
volumePluginDir: $NODE_DIR/volume-plugins
serializeImagePulls: false
registerNode: true
rotateCertificates: false
serverTLSBootstrap: false
EOF
  cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
hostnameOverride: $REAL_NODE_NAME
clientConnection:
  kubeconfig: $CLUSTER_DIR/kube-proxy.kubeconfig
bindAddress: $BRIDGE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
# NodePorts only on the bridge address.
nodePortAddresses: ["$BRIDGE_IP/32"]
# Leave the host's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

ctr_node() { ctr --address "$NODE_SOCK" -n k8s.io "$@"; }

# Imports the images made by tools/images/build.sh; the pause image is built if missing (the rest
# is optional: npm run image:build makes it).
node_import_images() {
  local dir a t
  dir=$(node_cache_root)/images/oci
  if [ ! -s "$dir/pause.tar" ]; then
    say "building the pause image (tools/images/build.sh pause) ..."
    bash "$REPO_ROOT/tools/images/build.sh" pause >&2
  fi
  t=$(now_ms)
  for a in pause operator consumer consumer-go consumer-python; do
    [ -s "$dir/$a.tar" ] || { say "no $a image yet (npm run image:build makes it)"; continue; }
    ctr_node images import "$dir/$a.tar" >>"$LOG_DIR/ctr-import.log" 2>&1 || { say "ctr import of $dir/$a.tar failed"; return 1; }
  done
  say "imported images into containerd in $(elapsed "$t")"
}

node_start() {
  local t
  t=$(now_ms)
  local node_bin
  if [ -n "${CLUSTER_NODE_BIN_DIR:-}" ]; then
    node_bin=$(cd "$CLUSTER_NODE_BIN_DIR" && pwd -P)
  else
    say "building/locating kubelet and kube-proxy (tools/cluster/build-node.sh) ..."
    node_bin=$(bash "$CLUSTER_TOOLS_DIR/build-node.sh" | tail -n 1)
  fi
  ln -sf "$node_bin/kubelet" "$BIN/kubelet"
  ln -sf "$node_bin/kube-proxy" "$BIN/kube-proxy"
  ln -sf "$(command -v containerd)" "$BIN/containerd"
  node_write_configs

  start_component containerd --config "$NODE_DIR/containerd.toml" --log-level warn
  wait_until containerd "containerd on $NODE_SOCK" ctr --address "$NODE_SOCK" version
  node_import_images

  # RBAC runs without the Node authorizer: the node's group gets the system:node role.
  "${KUBECTL[@]}" create clusterrolebinding jwtr:system:nodes --clusterrole=system:node --group=system:nodes >/dev/null

  start_component kubelet \
    --config="$NODE_DIR/kubelet.yaml" \
    --kubeconfig="$CLUSTER_DIR/kubelet.kubeconfig" \
    --root-dir="$NODE_DIR/kubelet" \
    --hostname-override="$REAL_NODE_NAME" \
    --node-ip="$BRIDGE_IP" \
    --node-labels="jwtrotation.io/node=real" \
    --v=1
  real_node_ready() {
    [ "$("${KUBECTL[@]}" get node "$REAL_NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
  }
  wait_until kubelet "Node $REAL_NODE_NAME Ready (kubelet)" real_node_ready
  say "real node $REAL_NODE_NAME Ready ($(elapsed "$t"))"

  start_component kube-proxy --config="$NODE_DIR/kube-proxy.yaml" --v=1
  wait_until kube-proxy "kube-proxy /healthz" curl -fsS --max-time 3 http://127.0.0.1:10256/healthz
  wait_until kube-proxy "kube-proxy's nftables rules" nft list table ip kube-proxy
  say "real node up in $(elapsed "$t"): containerd, kubelet, kube-proxy"
}

# ---------------------------------------------------------------------------------------------
# Teardown (down.sh, and up.sh before a fresh start). Never fails; says what it could not undo.
node_stop() {
  local t i left pid exe m
  t=$(now_ms)
  # 1. Let kubelet tear the pods down (CNI DEL, unmounts): no new pods, then every pod deleted.
  if component_alive kubelet && component_alive kube-apiserver && [ -s "$KUBECONFIG_FILE" ]; then
    local kc=("$CLUSTER_DIR/bin/kubectl" --kubeconfig "$KUBECONFIG_FILE" --request-timeout=5s)
    "${kc[@]}" taint node "$REAL_NODE_NAME" jwtrotation.io/stopping=true:NoSchedule --overwrite >/dev/null 2>&1 || true
    "${kc[@]}" delete pods -A --field-selector "spec.nodeName=$REAL_NODE_NAME" --force --grace-period=0 \
      --wait=false >/dev/null 2>&1 || true
    for ((i = 0; i < 200; i++)); do
      left=$(ctr_node tasks ls -q 2>/dev/null | wc -l)
      [ "$left" = 0 ] && break
      sleep 0.1
    done
    [ "$left" = 0 ] || say "$left container(s) still running after 20 s; killing them"
  fi
  stop_group kube-proxy kubelet
  # 2. Whatever is left: kill the tasks, remove the sandboxes' network namespaces, stop containerd.
  if component_alive containerd; then
    for m in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks kill -s SIGKILL "$m" >/dev/null 2>&1 || true; done
    for ((i = 0; i < 50; i++)); do
      [ -z "$(ctr_node tasks ls 2>/dev/null | awk 'NR>1 && $3!="STOPPED"')" ] && break
      sleep 0.1
    done
    for m in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks delete -f "$m" >/dev/null 2>&1 || true; done
  fi
  stop_group containerd
  # Shims outlive containerd by design: ours are the ones started with our socket.
  # (find fails on processes that exit while it looks: its status does not matter, nor kill's.)
  { find /proc -mindepth 2 -maxdepth 2 -name exe -lname '*/containerd-shim*' 2>/dev/null || true; } | while read -r exe; do
    proc=${exe%/exe}
    tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF "$NODE_SOCK" || continue
    if kill -KILL "${proc#/proc/}" 2>/dev/null; then say "killed a leftover shim (pid ${proc#/proc/})"; fi
  done
  # Container processes whose shim is gone: any process in our pods' cgroups.
  for m in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods /sys/fs/cgroup/cpu/kubepods; do
    [ -d "$m" ] || continue
    { find "$m" -name cgroup.procs -exec cat {} + 2>/dev/null || true; } | while read -r pid; do
      if kill -KILL "$pid" 2>/dev/null; then say "killed leftover container process $pid"; fi
    done
  done
  # 3. Mounts: everything under the node's directories (pod volumes, overlay rootfs, netns), deepest first.
  node_unmount_all
  # 4. cgroups kubelet and runc created (kubepods and below, in every hierarchy), deepest first.
  for m in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
    [ -d "$m" ] || continue
    find "$m" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$m" ] && say "could not remove the cgroup $m"
  done
  # 5. kube-proxy's tables (it does not remove them when it stops).
  nft delete table ip kube-proxy 2>/dev/null || true
  nft delete table ip6 kube-proxy 2>/dev/null || true
  # 6. The host's sysctls, as they were.
  if [ -s "$NODE_RUN/sysctls.before" ]; then
    local line key value now
    while IFS= read -r line; do
      key=${line%%=*} value=${line#*=}
      now=$(sysctl -n "$key" 2>/dev/null) || continue
      if [ "$now" != "$value" ]; then
        sysctl -qw "$key=$value" >/dev/null 2>&1 && say "restored $key=$value (was $now)" || say "could not restore $key=$value"
      fi
    done <"$NODE_RUN/sysctls.before"
  fi
  # 7. Network namespaces containerd made outside its state dir, the bridge and kubelet's log links.
  if [ -d /run/netns ]; then
    for m in /run/netns/cni-*; do
      [ -e "$m" ] || continue
      grep -qxF "${m##*/}" "$NODE_RUN/netns.before" 2>/dev/null && continue
      umount "$m" 2>/dev/null || true
      rm -f "$m"
    done
  fi
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
  if [ -e "$NODE_RUN/paths.before" ]; then # empty when none of them existed
    node_path_existed /run/netns || rmdir /run/netns 2>/dev/null || true
    if node_path_existed /var/log/containers; then
      find /var/log/containers -maxdepth 1 -type l -lname "$NODE_DIR/*" -delete 2>/dev/null || true
    else
      rm -rf /var/log/containers
    fi
    if node_path_existed /var/lib/cni; then rm -f /var/lib/cni/results/jwtr-*; else rm -rf /var/lib/cni; fi
    if node_path_existed /var/lib/kubelet; then
      rm -f /var/lib/kubelet/device-plugins/kubelet.sock
    else
      rm -rf /var/lib/kubelet
    fi
  fi
  rm -rf "$NODE_RUN/containerd" "$NODE_SOCK" "$NODE_SOCK.ttrpc"
  rm -f "$NODE_RUN/sysctls.before" "$NODE_RUN/netns.before" "$NODE_RUN/paths.before" "$NODE_RUN/owner"
  say "real node stopped and the host restored in $(elapsed "$t")"
}

node_unmount_all() {
  local m
  # /proc/self/mountinfo field 5 is the mount point (octal escapes for spaces; our paths have none).
  awk -v a="$NODE_DIR/" -v b="$NODE_RUN/" 'index($5, a) == 1 || index($5, b) == 1 {print $5}' /proc/self/mountinfo |
    sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
    done
}
