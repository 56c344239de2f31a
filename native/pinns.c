/*
 * peapod-pinns: creates a pod's network, IPC and/or UTS namespaces and pins
 * each on a bind-mounted file, with no process left in them, and sets them
 * up, in one process (driven by src/runtime-service/sandbox/namespaces.ts;
 * what CRI-O's pinns does).
 *
 * Why: the same work with util-linux and friends is `unshare --net=F
 * --ipc=F --uts=F sh -c 'mount … && hostname … && exec ip link set lo up'`:
 * five programs exec'd one after another on RunPodSandbox's critical path
 * (unshare, sh, mount, hostname, ip), each loading its shared libraries and
 * configuration (strace -f of one RunPodSandbox: 70 ms of the call on a
 * loaded host before the first CNI plugin runs). Here it is a handful of
 * system calls.
 *
 * Usage:
 *   peapod-pinns [--net=FILE] [--ipc=FILE] [--uts=FILE] [--hostname=NAME]
 *                [--loopback] [--shm=TARGET --shm-size=BYTES]
 * The FILEs must exist (the caller creates them empty). In order:
 * unshare(2) of the namespaces named; each pinned by a bind mount of
 * /proc/self/ns/<ns> on its FILE (this process keeps the caller's mount
 * namespace, so the pins are the caller's mounts); the pod's /dev/shm tmpfs
 * mounted at TARGET (mode 1777, nosuid, nodev, noexec, size BYTES); the
 * hostname set (sethostname(2), with a UTS namespace); the loopback
 * interface brought up (with a network namespace).
 *
 * Exit: 0; 1 with `peapod-pinns: <step>: <strerror>` on stderr when a step
 * failed (pins and the tmpfs made before it stay: the caller's rollback
 * removes them); 2 for bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *step, const char *what) {
  fprintf(stderr, "peapod-pinns: %s%s%s: %s\n", step, what ? " " : "", what ? what : "", strerror(errno));
  return 1;
}

static int usage(const char *arg) {
  fprintf(stderr, "peapod-pinns: bad argument %s\nusage: peapod-pinns [--net=FILE] [--ipc=FILE] [--uts=FILE] [--hostname=NAME] [--loopback] [--shm=TARGET --shm-size=BYTES]\n", arg);
  return 2;
}

/* Brings interface `name` up in this process's network namespace. */
static int link_up(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int saved = errno;
  close(s);
  errno = saved;
  return r;
}

static const char *value(const char *arg, const char *prefix) {
  size_t n = strlen(prefix);
  return strncmp(arg, prefix, n) == 0 ? arg + n : NULL;
}

int main(int argc, char **argv) {
  const char *net = NULL, *ipc = NULL, *uts = NULL, *hostname = NULL, *shm = NULL, *shm_size = NULL;
  int loopback = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if ((v = value(a, "--net="))) net = v;
    else if ((v = value(a, "--ipc="))) ipc = v;
    else if ((v = value(a, "--uts="))) uts = v;
    else if ((v = value(a, "--hostname="))) hostname = v;
    else if ((v = value(a, "--shm="))) shm = v;
    else if ((v = value(a, "--shm-size="))) shm_size = v;
    else if (strcmp(a, "--loopback") == 0) loopback = 1;
    else return usage(a);
  }
  if ((shm == NULL) != (shm_size == NULL) || (shm_size && strspn(shm_size, "0123456789") != strlen(shm_size))) return usage("--shm/--shm-size");
  int flags = (net ? CLONE_NEWNET : 0) | (ipc ? CLONE_NEWIPC : 0) | (uts ? CLONE_NEWUTS : 0);
  if (flags && unshare(flags) != 0) return fail("unshare", NULL);
  const struct {
    const char *file, *ns;
  } pins[] = {{net, "/proc/self/ns/net"}, {ipc, "/proc/self/ns/ipc"}, {uts, "/proc/self/ns/uts"}};
  for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++)
    if (pins[i].file && mount(pins[i].ns, pins[i].file, NULL, MS_BIND, NULL) != 0) return fail("pinning on", pins[i].file);
  if (shm) {
    char data[64];
    snprintf(data, sizeof data, "mode=1777,size=%s", shm_size);
    if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data) != 0) return fail("mounting /dev/shm at", shm);
  }
  if (uts && hostname && sethostname(hostname, strlen(hostname)) != 0) return fail("sethostname", hostname);
  if (net && loopback && link_up("lo") != 0) return fail("bringing up", "lo");
  return 0;
}
