#!/bin/sh
# Builds peapod's small native helpers into dist/native/ (run by `npm run build`):
#   peapod-spawner  the fork server of peapod-cri (native/spawner.c, src/common/host/spawner.ts)
#   peapod-pause    PID 1 of a pod sharing a PID namespace (native/pause.c, src/runtime-service/sandbox/infra.ts)
#   peapod-mount    mount(2) and umount2(2) without mount(8) (native/mount.c, src/common/host/mount-program.ts)
#   peapod-pinns    a pod's pinned namespaces in one process (native/pinns.c, src/runtime-service/sandbox/namespaces.ts)
#   peapod-host.node  a Node-API addon for syncfs(2), malloc_trim(3) and lgetxattr(2) (native/host-addon.c,
#                   src/common/host/host-addon.ts), built against Node's own headers when they are
#                   there (include/node beside the node binary, or node-gyp's cache); without
#                   it layers are synced by running `sync -f` and freed heap memory is not trimmed
# Static when libc's static archive is there (smaller in memory), else dynamic. Without a C
# compiler it builds nothing and says so: peapod then starts children with Node's own spawn, and
# a pod sharing a PID namespace cannot start (its RunPodSandbox says why).
set -u
cd "$(dirname "$0")/.."
out=dist/native
mkdir -p "$out"
cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build-native: no C compiler ($cc): peapod-cri will fork children itself (slower: see the README, Benchmarks) and cannot run pods sharing a PID namespace (no peapod-pause)" >&2
  exit 0
fi
for prog in spawner pause mount pinns; do
  src=native/$prog.c
  bin=$out/peapod-$prog
  $cc -O2 -Wall -Wextra -static -o "$bin" "$src" 2>/dev/null || $cc -O2 -Wall -Wextra -o "$bin" "$src" || {
    echo "build-native: $src did not compile" >&2
    exit 1
  }
done
# The addon: Node's headers ship with its binary (include/node) or sit in node-gyp's cache.
node_inc=
for d in "$(node -p 'require("path").join(process.execPath, "..", "..", "include", "node")')" "${HOME:-/root}/.cache/node-gyp/$(node -p 'process.versions.node')/include/node"; do
  if [ -f "$d/node_api.h" ]; then node_inc=$d; break; fi
done
if [ -z "$node_inc" ]; then
  echo "build-native: no Node headers (node_api.h): no peapod-host.node; layers are synced with \`sync -f\` and freed heap memory is not trimmed" >&2
else
  $cc -O2 -Wall -Wextra -shared -fPIC -I"$node_inc" -o "$out/peapod-host.node" native/host-addon.c || {
    echo "build-native: native/host-addon.c did not compile" >&2
    exit 1
  }
fi
