#!/bin/sh
# Builds peapod's small native helpers into dist/native/ (run by `npm run build`):
#   peapod-spawner  the fork server of peapod-cri (native/spawner.c, src/common/host/spawner.ts)
#   peapod-pause    PID 1 of a pod sharing a PID namespace (native/pause.c, src/runtime-service/sandbox/infra.ts)
#   peapod-mount    mount(2) and umount2(2) without mount(8) (native/mount.c, src/common/host/mount-program.ts)
#   peapod-pinns    a pod's pinned namespaces in one process (native/pinns.c, src/runtime-service/sandbox/namespaces.ts)
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
