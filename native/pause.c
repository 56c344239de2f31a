/*
 * peapod-pause: the init process of a pod that shares one PID namespace
 * (CRI pid mode POD), started by src/runtime-service/sandbox/infra.ts.
 *
 * What PID 1 of a pod must do, and all this one does: reap the zombies
 * that the pod's containers leave behind (an orphan of any process in the
 * namespace becomes PID 1's child), exit 0 on SIGTERM or SIGINT, and
 * otherwise sleep. It holds no memory to speak of and makes no system call
 * while nothing happens.
 *
 * It also makes the pod's PID namespace itself, so that a pod start is one
 * short-lived process and one long-lived one, not nsenter, unshare, a shell
 * and its timer child:
 *
 *   peapod-pause [--net=FILE] [--ipc=FILE] [--uts=FILE] [--pidns=PIN] [--] [LABEL...]
 *
 *   --net/--ipc/--uts=FILE  setns(2) into the namespace pinned on FILE first
 *   --pidns=PIN             unshare(CLONE_NEWPID) and fork: the child is PID 1
 *                           of the new namespace (own session, stdio on
 *                           /dev/null, named "pause"); once it has its signal
 *                           handlers the parent bind-mounts the child's
 *                           /proc/<pid>/ns/pid on PIN (an existing file), prints
 *                           "<pid> <start time>\n" (host pid; field 22 of
 *                           /proc/<pid>/stat) and exits 0. Until then the child
 *                           is the parent's unreaped child, so its pid cannot
 *                           name another process: the pin is its namespace.
 *                           On any failure the child is killed, the reason is
 *                           written to stderr and the exit status is 1.
 *   without --pidns         this process pauses itself (no namespace made).
 *   LABEL...                ignored: peapod puts the sandbox ID there, so the
 *                           process is found by its argv after a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, const char *arg) {
  fprintf(stderr, "peapod-pause: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  exit(1);
}

static void join(const char *file, int nstype) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open", file);
  if (setns(fd, nstype) < 0) die("setns", file);
  close(fd);
}

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
}

/* PID 1's life: reap every child that has exited, then wait for a signal. */
static void run_pause(int ready_fd) {
  sigset_t wanted, old;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGINT);
  /* Blocked outside sigsuspend, so a SIGCHLD cannot slip in between the reap and the wait. */
  sigprocmask(SIG_BLOCK, &wanted, &old);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  prctl(PR_SET_NAME, "pause", 0, 0, 0);
  if (ready_fd >= 0) {
    char c = 1;
    while (write(ready_fd, &c, 1) < 0 && errno == EINTR) {
    }
    close(ready_fd);
  }
  sigset_t waiting = old;
  sigdelset(&waiting, SIGCHLD);
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);
  for (;;) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    sigsuspend(&waiting);
  }
}

/* Field 22 of /proc/<pid>/stat (start time in clock ticks after boot), into out. */
static int start_time(pid_t pid, char *out, size_t len) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2; /* fields from 3 (state) on */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  size_t k = strcspn(p, " \n");
  if (k == 0 || k >= len) return -1;
  memcpy(out, p, k);
  out[k] = 0;
  return 0;
}

static void fail_child(pid_t child, const char *what, const char *arg) {
  int saved = errno;
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  errno = saved;
  die(what, arg);
}

int main(int argc, char **argv) {
  const char *pidns = NULL;
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (strncmp(a, "--net=", 6) == 0) join(a + 6, CLONE_NEWNET);
    else if (strncmp(a, "--ipc=", 6) == 0) join(a + 6, CLONE_NEWIPC);
    else if (strncmp(a, "--uts=", 6) == 0) join(a + 6, CLONE_NEWUTS);
    else if (strncmp(a, "--pidns=", 8) == 0) pidns = a + 8;
    else if (strncmp(a, "--", 2) == 0) {
      fprintf(stderr, "peapod-pause: unknown option %s\n", a);
      return 2;
    } else break; /* the labels */
  }
  if (!pidns) run_pause(-1);

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) die("pipe", NULL);
  if (unshare(CLONE_NEWPID) < 0) die("unshare", "CLONE_NEWPID");
  pid_t child = fork();
  if (child < 0) die("fork", NULL);
  if (child == 0) {
    close(ready[0]);
    setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      if (null > 2) close(null);
    }
    /* Nothing else of the caller's is kept open for the pod's lifetime (but the ready pipe). */
    unsigned keep = (unsigned)ready[1];
    if ((keep > 3 && syscall(SYS_close_range, 3U, keep - 1, 0U) < 0) || syscall(SYS_close_range, keep + 1, ~0U, 0U) < 0) {
      for (unsigned fd = 3; fd < 1024; fd++)
        if (fd != keep) close((int)fd);
    }
    if (chdir("/") < 0) {
      /* stays where it was: harmless */
    }
    run_pause(ready[1]);
  }
  close(ready[1]);
  char c;
  ssize_t n;
  while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) fail_child(child, "the pause process ended before it was ready", NULL);
  char src[64];
  snprintf(src, sizeof src, "/proc/%d/ns/pid", (int)child);
  if (mount(src, pidns, NULL, MS_BIND, NULL) < 0) fail_child(child, "bind-mount of its PID namespace on", pidns);
  char st[32];
  if (start_time(child, st, sizeof st) < 0) fail_child(child, "reading the start time of", src);
  /* Still running (not a zombie), so the pin made above names its namespace. */
  if (waitpid(child, NULL, WNOHANG) != 0) {
    umount2(pidns, MNT_DETACH);
    errno = ESRCH;
    die("the pause process exited while its PID namespace was being pinned on", pidns);
  }
  printf("%d %s\n", (int)child, st);
  return fflush(stdout) == 0 ? 0 : 1;
}
