#!/usr/bin/env bash
# Starts peapod-cri in the background on /run/peapod/peapod.sock (run as root
# from the repo, after scripts/setup.sh), and waits until it answers.
#  - writes /etc/peapod/peapod.conf if there is none (all defaults);
#  - writes a CNI network /etc/cni/net.d/10-peapod.conflist if the directory
#    has no configuration (bridge peapod0, pods in 198.18.0.0/24);
#  - writes /etc/crictl.yaml pointing crictl at peapod if there is none.
# Logs go to /var/log/peapod-cri.log; stop it with: kill $(cat /run/peapod/peapod-cri.pid)
#
# Every path can be moved by the environment (the tests run the script in
# temp dirs this way); the defaults are the system paths above:
#   PEAPOD_CONF_DIR (/etc/peapod: peapod.conf and peapod.conf.d),
#   PEAPOD_ROOT (the config's root, /var/lib/peapod), PEAPOD_RUNROOT (/run/peapod:
#   the socket peapod.sock and the pid file peapod-cri.pid), CNI_CONF_DIR
#   (/etc/cni/net.d), CRICTL_YAML (/etc/crictl.yaml), PEAPOD_LOG
#   (/var/log/peapod-cri.log). CNI_CONF_DIR only says where the script looks
#   and writes; peapod-cri reads the config key network.cni_conf_dir.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
conf_dir=${PEAPOD_CONF_DIR:-/etc/peapod}
runroot=${PEAPOD_RUNROOT:-/run/peapod}
cni_dir=${CNI_CONF_DIR:-/etc/cni/net.d}
crictl_yaml=${CRICTL_YAML:-/etc/crictl.yaml}
log=${PEAPOD_LOG:-/var/log/peapod-cri.log}
socket=$runroot/peapod.sock
pidfile=$runroot/peapod-cri.pid
# Flags only for what the environment moved, so the config's keys apply otherwise.
server_args=()
if [ -n "${PEAPOD_CONF_DIR:-}" ]; then
  server_args+=(--config "$conf_dir/peapod.conf")
  if [ -d "$conf_dir/peapod.conf.d" ]; then server_args+=(--config-dir "$conf_dir/peapod.conf.d"); fi
fi
[ -z "${PEAPOD_RUNROOT:-}" ] || server_args+=(--runroot "$runroot" --socket "$socket")
[ -z "${PEAPOD_ROOT:-}" ] || server_args+=(--root "$PEAPOD_ROOT")

[ "$(id -u)" = 0 ] || { echo "start-cri.sh: run as root" >&2; exit 1; }
[ -f dist/src/server/main.js ] || { echo "start-cri.sh: not built; run scripts/setup.sh first" >&2; exit 1; }

mkdir -p "$conf_dir" "$cni_dir" "$runroot"
# /run/peapod is peapod-cri's runroot and the socket's directory: owner all,
# group search only (the socket is 0660), as peapod-cri sets it at every
# start (docs/security.md); never 0755, which let every host user reach the
# container bundles below it.
chmod 0710 "$runroot"
[ -f "$conf_dir/peapod.conf" ] || printf '# peapod-cri configuration: see docs/config.md. Every key has a default.\n' > "$conf_dir/peapod.conf"
# The first network file in name order is the one pods join (as with CRI-O and containerd).
first_cni=$(for f in "$cni_dir"/*.conf "$cni_dir"/*.conflist "$cni_dir"/*.json; do if [ -e "$f" ]; then echo "$f"; fi; done | sort | head -n 1)
have_cni=no
if [ -n "$first_cni" ]; then
  have_cni=yes
  echo "start-cri.sh: $cni_dir has a network already; pods join $first_cni" >&2
fi
if [ "$have_cni" = no ]; then
  cat > "$cni_dir/10-peapod.conflist" <<'JSON'
{
  "cniVersion": "1.0.0",
  "name": "peapod",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "peapod0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "198.18.0.0/24" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
fi
[ -f "$crictl_yaml" ] || printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$socket" "$socket" > "$crictl_yaml"

if [ -S "$socket" ] && node -e "require('net').createConnection('$socket').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
  echo "peapod-cri is already serving on $socket"
  exit 0
fi

nohup node "$repo/dist/src/server/main.js" "${server_args[@]}" >>"$log" 2>&1 &
echo $! > "$pidfile"
for _ in $(seq 1 100); do
  if [ -S "$socket" ] && node -e "require('net').createConnection('$socket').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
    echo "peapod-cri is serving on unix://$socket (pid $(cat "$pidfile"), log $log)"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "start-cri.sh: peapod-cri exited; last log lines:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "start-cri.sh: peapod-cri did not start listening in 10 s; see $log" >&2
exit 1
