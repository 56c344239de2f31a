#!/usr/bin/env bash
# Installs everything peapod needs on Debian 12 (run as root from the repo):
# the Debian packages it drives (runc, conmon, CNI plugins, …) and the tests
# use (docker-registry, busybox-static), then the npm dependencies, then builds.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup.sh: peapod needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

PACKAGES=(
  runc                        # the OCI runtime
  conmon                      # the per-container monitor
  containernetworking-plugins # CNI plugins in /usr/lib/cni
  iproute2 iptables           # network namespaces, portmap
  util-linux                  # unshare, nsenter, mount
  socat                       # port-forward relay into pod network namespaces (nsenter + socat)
  perl-base                   # the attach relay to conmon's SOCK_SEQPACKET socket (Essential: always there)
  docker-registry             # tests: a real registry on 127.0.0.1
  busybox-static              # tests: the content of test images
  gcc libc6-dev               # npm run critest: static C stand-ins for programs of critest's images
  attr                        # setfattr: layer xattrs and overlay opaque dirs (image store)
  uidmap                      # rootless: newuidmap/newgidmap map a user's /etc/subuid and /etc/subgid ranges
  slirp4netns                 # rootless: the network of rootless pods (and their published ports)
  fuse-overlayfs              # rootless: root file systems where the kernel refuses overlayfs in a user namespace
  coreutils                   # mknod, mkfifo: device nodes and FIFOs of layers
  zstd                        # tests: zstd-compressed test layers
  openssl                     # tests: the token server's signing certificate
  strace                      # tests: layers are made durable (syncfs, fsync) before they are recorded
  python3 make g++            # native npm modules (better-sqlite3)
  criu                        # CheckpointContainer/CheckpointPod/RestorePod (Debian 12's 3.17.1 fails `criu check` on newer kernels: those RPCs then answer FAILED_PRECONDITION)
  containerd                  # npm run bench: the runtime peapod is compared with (started privately; no service)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts a docker-registry service on :5000 when one can start; the tests run their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
# containerd is only for `npm run bench`, which starts its own with a temp
# root and socket: if this script just installed it, stop the service the
# package enables under systemd (a containerd that was there before is left alone).
if [[ " ${missing[*]:-} " == *" containerd "* ]] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet containerd 2>/dev/null; then
  systemctl disable --now containerd >/dev/null 2>&1 || true
fi

# Rootless peapod (docs/rootless.md): slirp4netns opens /dev/net/tun and
# fuse-overlayfs opens /dev/fuse as the user. Debian makes both mode 0666;
# where a machine has them 0600, give them Debian's mode back.
for dev in /dev/net/tun /dev/fuse; do
  if [ -c "$dev" ] && [ "$(stat -c %a "$dev")" != 666 ]; then
    chmod 0666 "$dev"
    echo "setup.sh: $dev set to mode 0666 (Debian's default) for rootless peapod"
  fi
done

# npm ci rebuilds native modules from source (minutes); skip it when the
# installed tree already matches package-lock.json.
stamp=node_modules/.peapod-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
npm run build
