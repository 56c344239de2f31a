#!/bin/sh
# The floor of `peapod run --rm --network none IMAGE true`: the host programs
# the CLI runs for it, in the CLI's order and with its arguments, driven by a
# shell instead of Node (docs/cli.md, "The floors"). What this takes is what
# no JavaScript can save; the CLI's time over it is Node's start and our code.
#
#   run-none.sh setup DIR CONFIG LOWER   once: DIR is a scratch directory (made),
#                                         CONFIG the config.json of a container
#                                         `peapod create --network none` made,
#                                         LOWER the image's layer directory
#   run-none.sh run DIR                  one run (what hyperfine times)
#   run-none.sh clean DIR                unmounts and removes what is left
#
# Rootless (docs/rootless.md): run each step as the user inside the holder's
# namespaces, `nsenter --target HOLDER --user --mount --preserve-credentials --
# sh run-none.sh …` (what bin/peapod execs), with CONFIG from a rootless
# `peapod create`, FLOOR_OVERLAY_OPTS=,userxattr at setup, FLOOR_REMOUNT=0
# (the rootless CLI does not remount) and FLOOR_SLIRP=1 for the default
# rootless network (slirp4netns on the pinned netns, started as the CLI
# does, waited for on its ready fd, stopped after the exit).
#
# One run: peapod-pinns pins the network, IPC and UTS namespaces with /dev/shm,
# hostname and loopback; peapod-mount mounts the overlay rootfs; conmon runs
# `runc create` (its sync pipe, a FIFO here, says when the container exists);
# the host's view of the rootfs is remounted nosuid,nodev; the exec FIFO is
# opened for reading (the CLI's start, instead of `runc start`); the wait for
# the exit (conmon's exit command writes a FIFO: the CLI watches the exit
# file with inotify instead); then `runc delete --force`, the rootfs umount and
# the pins' umount side by side, as the CLI does. Differences from the CLI,
# all in the floor's favour: no records, no image lookup, no state database,
# the writable layer is reused (the CLI's `rm -rf` of it runs in the
# background, off the critical path), conmon is not killed after the exit.
set -eu
cmd=$1
D=$2
NATIVE=${PEAPOD_NATIVE:-$(dirname "$0")/../../dist/native}

case $cmd in
setup)
  CONFIG=$3
  LOWER=$4
  mkdir -p "$D/sb/shm" "$D/files" "$D/ctr/rootfs" "$D/upper" "$D/work" "$D/exits" "$D/sockets" "$D/persist" "$D/runc"
  : > "$D/sb/netns"; : > "$D/sb/ipcns"; : > "$D/sb/utsns"
  echo floor > "$D/files/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$D/files/hosts"
  : > "$D/files/resolv.conf"
  echo "$LOWER" > "$D/lower"
  echo "${FLOOR_OVERLAY_OPTS:-}" > "$D/overlay-opts"
  # The container's config with the sandbox's and bundle's paths moved to DIR.
  sed -e "s#\"path\": *\"[^\"]*/rootfs\"#\"path\": \"$D/ctr/rootfs\"#" \
      -e "s#\"[^\"]*/sandboxes/[0-9a-f]*/\(netns\|ipcns\|utsns\|shm\)\"#\"$D/sb/\1\"#g" \
      -e "s#\"[^\"]*/sandboxes/[0-9a-f]*/\(hosts\|hostname\|resolv.conf\)\"#\"$D/files/\1\"#g" \
      -e "s#\"cgroupsPath\": *\"[^\"]*\"#\"cgroupsPath\": \"/peapod-floor/ctr\"#" \
      "$CONFIG" > "$D/ctr/config.json"
  mkfifo "$D/sync" "$D/exited" "$D/slirp-ready"
  ;;
run)
  read -r LOWER < "$D/lower"
  read -r OPTS < "$D/overlay-opts" || OPTS=
  ID=floor-$$
  "$NATIVE/peapod-pinns" --net="$D/sb/netns" --ipc="$D/sb/ipcns" --uts="$D/sb/utsns" --hostname=floor --loopback --shm="$D/sb/shm" --shm-size=67108864
  slirp=
  if [ "${FLOOR_SLIRP:-0}" = 1 ]; then
    exec 5<>"$D/slirp-ready"
    /usr/bin/slirp4netns --configure --mtu=65520 --disable-host-loopback --enable-sandbox --enable-seccomp \
      --api-socket="$D/slirp-$$.sock" --ready-fd=5 --netns-type=path "$D/sb/netns" tap0 >"$D/slirp.log" 2>&1 &
    slirp=$!
    head -c1 <&5 >/dev/null
  fi
  "$NATIVE/peapod-mount" -t overlay overlay -o "lowerdir=$LOWER,upperdir=$D/upper,workdir=$D/work$OPTS" "$D/ctr/rootfs"
  exec 3<>"$D/sync" 4<>"$D/exited"
  _OCI_SYNCPIPE=3 /usr/bin/conmon --api-version 1 -c "$ID" -u "$ID" -n "$ID" -r /usr/sbin/runc -b "$D/ctr" \
    -p "$D/ctr/pid" --conmon-pidfile "$D/ctr/conmon.pid" -l "k8s-file:$D/ctr/console.log" \
    --exit-dir "$D/exits" --socket-dir-path "$D/sockets" --persist-dir "$D/persist" \
    --runtime-arg "--root=$D/runc" --log-level error --syslog \
    --exit-command /bin/sh --exit-command-arg -c --exit-command-arg "echo x > $D/exited"
  read -r created <&3
  case $created in *'"data": -'*) echo "runc create failed: $created" >&2; exit 1 ;; esac
  [ "${FLOOR_REMOUNT:-1}" = 0 ] || "$NATIVE/peapod-mount" -o remount,bind,nosuid,nodev "$D/ctr/rootfs"
  { read -r _ < "$D/runc/$ID/exec.fifo"; } || true
  read -r _ <&4
  /usr/sbin/runc --root "$D/runc" delete --force "$ID" &
  "$NATIVE/peapod-mount" --umount "$D/ctr/rootfs" &
  if [ -n "$slirp" ]; then kill "$slirp"; wait "$slirp" || true; fi
  "$NATIVE/peapod-mount" --umount "$D/sb/netns" "$D/sb/ipcns" "$D/sb/utsns" "$D/sb/shm" &
  wait
  ;;
clean)
  for m in "$D/ctr/rootfs" "$D/sb/netns" "$D/sb/ipcns" "$D/sb/utsns" "$D/sb/shm"; do
    mountpoint -q "$m" && umount "$m"
  done
  for c in $(/usr/sbin/runc --root "$D/runc" list -q 2>/dev/null); do /usr/sbin/runc --root "$D/runc" delete --force "$c"; done
  rmdir /sys/fs/cgroup/*/peapod-floor/ctr /sys/fs/cgroup/*/peapod-floor /sys/fs/cgroup/unified/peapod-floor/ctr /sys/fs/cgroup/unified/peapod-floor 2>/dev/null || true
  rm -rf "$D"
  ;;
*) echo "usage: $0 setup DIR CONFIG LOWER | run DIR | clean DIR" >&2; exit 2 ;;
esac
