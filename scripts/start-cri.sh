#!/usr/bin/env bash
# Starts peapod-cri in the background on /run/peapod/peapod.sock (run as root
# from the repo, after scripts/setup.sh), and waits until it answers.
#  - writes /etc/peapod/peapod.conf if there is none (all defaults);
#  - writes a CNI network /etc/cni/net.d/10-peapod.conflist if the directory
#    has no configuration (bridge peapod0, pods in 198.18.0.0/24);
#  - writes /etc/crictl.yaml pointing crictl at peapod if there is none.
# Logs go to /var/log/peapod-cri.log; stop it with: kill $(cat /run/peapod/peapod-cri.pid)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
socket=/run/peapod/peapod.sock

[ "$(id -u)" = 0 ] || { echo "start-cri.sh: run as root" >&2; exit 1; }
[ -f dist/src/server/main.js ] || { echo "start-cri.sh: not built; run scripts/setup.sh first" >&2; exit 1; }

mkdir -p /etc/peapod /etc/cni/net.d /run/peapod
# /run/peapod is peapod-cri's runroot and the socket's directory: owner all,
# group search only (the socket is 0660), as peapod-cri sets it at every
# start (docs/security.md); never 0755, which let every host user reach the
# container bundles below it.
chmod 0710 /run/peapod
[ -f /etc/peapod/peapod.conf ] || printf '# peapod-cri configuration: see docs/config.md. Every key has a default.\n' > /etc/peapod/peapod.conf
# The first network file in name order is the one pods join (as with CRI-O and containerd).
first_cni=$(for f in /etc/cni/net.d/*.conf /etc/cni/net.d/*.conflist /etc/cni/net.d/*.json; do if [ -e "$f" ]; then echo "$f"; fi; done | sort | head -n 1)
have_cni=no
if [ -n "$first_cni" ]; then
  have_cni=yes
  echo "start-cri.sh: /etc/cni/net.d has a network already; pods join $first_cni" >&2
fi
if [ "$have_cni" = no ]; then
  cat > /etc/cni/net.d/10-peapod.conflist <<'JSON'
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
[ -f /etc/crictl.yaml ] || printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$socket" "$socket" > /etc/crictl.yaml

if [ -S "$socket" ] && node -e "require('net').createConnection('$socket').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
  echo "peapod-cri is already serving on $socket"
  exit 0
fi

nohup node "$repo/dist/src/server/main.js" >>/var/log/peapod-cri.log 2>&1 &
echo $! > /run/peapod/peapod-cri.pid
for _ in $(seq 1 100); do
  if [ -S "$socket" ] && node -e "require('net').createConnection('$socket').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
    echo "peapod-cri is serving on unix://$socket (pid $(cat /run/peapod/peapod-cri.pid), log /var/log/peapod-cri.log)"
    exit 0
  fi
  if ! kill -0 "$(cat /run/peapod/peapod-cri.pid)" 2>/dev/null; then
    echo "start-cri.sh: peapod-cri exited; last log lines:" >&2
    tail -n 20 /var/log/peapod-cri.log >&2
    exit 1
  fi
  sleep 0.1
done
echo "start-cri.sh: peapod-cri did not start listening in 10 s; see /var/log/peapod-cri.log" >&2
exit 1
