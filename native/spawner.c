/*
 * peapod-spawner: a small fork server for peapod-cri (driven by
 * src/common/host/spawner.ts).
 *
 * Why: Node's child_process.spawn forks the whole server on its event loop
 * and waits there until the child has exec'd; the fork copies the page
 * tables of every mapped page and the exec tears the copy down again, so
 * each spawn blocks peapod-cri for a time that grows with its memory. This
 * process is a few hundred KiB: it forks in microseconds, and peapod-cri
 * only writes a request and connects a few sockets.
 *
 * It is also a child subreaper (PR_SET_CHILD_SUBREAPER), as conmon is: a
 * process a child leaves behind (`runc exec --detach` leaves the exec'd
 * process) becomes this process's child when its parent exits, so a detached
 * run (kind 3) can report its exit status. That is how peapod-cri runs
 * ExecSync without a conmon per call. Other processes left behind are reaped
 * and forgotten.
 *
 * Channels:
 * - fd 0: requests from peapod (binary frames, below); EOF ends this process
 *   (children are left running, as when Node's own parent exits).
 * - fd 1: events to peapod, one line each:
 *     "R\n"                       ready (listening)
 *     "S <id> <pid>\n"            spawned (the program was exec'd)
 *     "E <id> <errno>\n"          could not be started (fork, chdir or exec failed)
 *     "X <id> <code> <signal>\n"  exited: code -1 when killed by <signal>, signal 0 otherwise
 * - argv[1]: a name in the abstract unix socket namespace (bound NUL-padded
 *   to the whole sun_path, as libuv addresses it); peapod connects one stream
 *   socket per piped stdio fd of a child and writes 8 bytes first (u32
 *   little-endian request id, u32 fd index). Only connections from the
 *   parent process (SO_PEERCRED) are accepted. The socket itself becomes the
 *   child's fd, as libuv gives children a socketpair for a pipe.
 *
 * Request frames (little-endian): u32 length of the rest, u32 kind, then
 * - kind 1, spawn: u32 id, u32 flags (1: detached, a new session), u32 nfds
 *   (3..16), nfds bytes 'p' (a connection) or 'n' (/dev/null), str cwd (''
 *   keeps this process's), str file, u32 argc, argc strs, u32 envc, envc strs
 *   ("K=V"); a str is u32 length + bytes.
 * - kind 2 is unused (it was the release of held outputs); it is ignored.
 * - kind 3, detached run (ExecSync's `runc exec --detach`): u32 id, u32 cap,
 *   str pid file, str cwd, str file, u32 argc, argc strs, u32 envc, envc strs.
 *   The child gets /dev/null as fd 0 and, as fds 1 and 2, pipes this
 *   process reads itself and forwards on fd 1 (no connection per pipe):
 *     "O <id> <fd> <len>\n" + len bytes   output (at most `cap` bytes of each
 *                                      fd are forwarded; the rest is read and dropped)
 *   When the child exits 0, its pid file names the process it left behind:
 *   this process reads it (O_NOATIME) and unlinks it, reports
 *     "P <id> <pid>\n"
 *   and waits until that process is reaped. Then (or at once when the child
 *   failed or named no process) it reads what is left in the pipes, closes
 *   them (a background process still holding them gets EPIPE) and reports
 *     "D <id> <code> <signal> <pcode> <psignal>\n"
 *   the child's end, and the left process's: pcode -1 when killed by
 *   psignal, -2 when there was none, -3 when its end is unknown. The
 *   child's own start is reported with "S", or "E" when it could not start.
 *
 * The child starts as libuv would start one: every signal at its default
 * and unblocked, fds 0..nfds-1 as asked and every other fd closed; `file`
 * without a slash is searched in the PATH of the child's environment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MAX_FDS 16
#define MAX_FRAME (8u << 20)
#define HEADER_BYTES 8
#define KIND_SPAWN 1
#define KIND_DETACHED_RUN 3
#define FLAG_DETACHED 1
/* Orphans reaped lately, so a detached run whose left process was reaped before its pid file was read still gets its end. */
#define RECENT 256

/* A spawn request being assembled: its frame and the connections of its piped fds. */
struct pending {
  uint32_t id;
  int have_request;
  char *frame; /* the request frame after its kind (owned) */
  uint32_t frame_len;
  uint32_t nfds;
  char kinds[MAX_FDS];
  int fds[MAX_FDS];
  int used;
};

/* An accepted connection whose 8-byte header is not complete yet. */
struct conn {
  int fd;
  unsigned char head[HEADER_BYTES];
  int have;
};

struct child {
  pid_t pid;
  uint32_t id;
};

/* A detached run (kind 3): its child, the process it left, the read ends of its outputs. */
struct run {
  uint32_t id;
  int used;
  pid_t child;
  pid_t left; /* 0 until the pid file named it */
  int rfd[3]; /* read ends of fds 1 and 2; -1 once closed */
  uint32_t sent[3];
  uint32_t cap;
  char *pidfile;
  int code, sig;
};

/* An orphan reaped lately and how it ended. */
struct reaped {
  pid_t pid;
  int code, sig;
};

static struct run *runs;
static size_t nruns;
static struct pending *pendings;
static size_t npendings;
static struct conn *conns;
static size_t nconns;
static struct child *children;
static size_t nchildren, capchildren;
static struct reaped recent[RECENT];
static size_t recent_next;
static pid_t parent_pid;

static void die(const char *what) {
  fprintf(stderr, "peapod-spawner: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) die("out of memory");
  return q;
}

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
  char line[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  const char *p = line;
  while (n > 0) {
    ssize_t w = write(1, p, (size_t)n);
    if (w < 0) {
      if (errno == EINTR) continue;
      exit(0); /* peapod is gone */
    }
    p += w;
    n -= (int)w;
  }
}

static struct pending *pending_for(uint32_t id) {
  for (size_t i = 0; i < npendings; i++)
    if (pendings[i].used && pendings[i].id == id) return &pendings[i];
  size_t slot = npendings;
  for (size_t i = 0; i < npendings; i++)
    if (!pendings[i].used) {
      slot = i;
      break;
    }
  if (slot == npendings) pendings = xrealloc(pendings, ++npendings * sizeof *pendings);
  struct pending *p = &pendings[slot];
  memset(p, 0, sizeof *p);
  p->used = 1;
  p->id = id;
  for (int i = 0; i < MAX_FDS; i++) p->fds[i] = -1;
  return p;
}

static void pending_free(struct pending *p) {
  for (int i = 0; i < MAX_FDS; i++)
    if (p->fds[i] >= 0) close(p->fds[i]);
  free(p->frame);
  p->used = 0;
}

/* A cursor over a request frame. */
struct cursor {
  const char *p, *end;
  int bad;
};

static uint32_t get_u32(struct cursor *c) {
  if (c->end - c->p < 4) {
    c->bad = 1;
    return 0;
  }
  uint32_t v;
  memcpy(&v, c->p, 4);
  c->p += 4;
  return v;
}

/* A string of the frame, NUL-terminated in a fresh allocation. */
static char *get_str(struct cursor *c) {
  uint32_t n = get_u32(c);
  if (c->bad || (uint32_t)(c->end - c->p) < n) {
    c->bad = 1;
    return NULL;
  }
  char *s = xrealloc(NULL, n + 1);
  memcpy(s, c->p, n);
  s[n] = 0;
  c->p += n;
  return s;
}

static char **get_strs(struct cursor *c) {
  uint32_t n = get_u32(c);
  if (c->bad || n > (uint32_t)(c->end - c->p) / 4) {
    c->bad = 1;
    return NULL;
  }
  char **v = xrealloc(NULL, (n + 1) * sizeof *v);
  uint32_t i = 0;
  for (; i < n; i++) {
    v[i] = get_str(c);
    if (c->bad) break;
  }
  v[i] = NULL;
  return v;
}

static void free_strs(char **v) {
  if (!v) return;
  for (char **s = v; *s; s++) free(*s);
  free(v);
}

static void child_fail(int errfd, int err) {
  ssize_t r;
  do r = write(errfd, &err, sizeof err);
  while (r < 0 && errno == EINTR);
  _exit(127);
}

/* execve with libuv's PATH search: the PATH of the child's environment, else ours. */
static int exec_search(const char *file, char **argv, char **envp) {
  if (strchr(file, '/')) {
    execve(file, argv, envp);
    return errno;
  }
  const char *path = NULL;
  for (char **e = envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  if (!path) path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  int saved = ENOENT;
  size_t flen = strlen(file);
  for (const char *dir = path;;) {
    const char *colon = strchr(dir, ':');
    size_t dlen = colon ? (size_t)(colon - dir) : strlen(dir);
    char buf[4096];
    if (dlen + flen + 2 <= sizeof buf) {
      if (dlen == 0) {
        memcpy(buf, file, flen + 1);
      } else {
        memcpy(buf, dir, dlen);
        buf[dlen] = '/';
        memcpy(buf + dlen + 1, file, flen + 1);
      }
      execve(buf, argv, envp);
      if (errno == EACCES) saved = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR) return errno;
    }
    if (!colon) break;
    dir = colon + 1;
  }
  return saved;
}

static void track(pid_t pid, uint32_t id) {
  if (nchildren == capchildren) children = xrealloc(children, (capchildren = capchildren ? capchildren * 2 : 64) * sizeof *children);
  children[nchildren].pid = pid;
  children[nchildren].id = id;
  nchildren++;
}

/*
 * Forks and execs a child with fds 0..nfds-1 dup'd from src[] (see the
 * header for how it starts). Returns its pid, or -1 with *err set (fork,
 * chdir or exec failed: the exec's errno comes back on a CLOEXEC pipe).
 */
static pid_t fork_exec(uint32_t flags, uint32_t nfds, const int *src, const char *cwd, const char *file, char **argv, char **envp, int *err) {
  int errpipe[2] = {-1, -1};
  if (pipe2(errpipe, O_CLOEXEC) < 0) {
    *err = errno;
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) *err = errno;
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    if (flags & FLAG_DETACHED) setsid();
    int errfd = fcntl(errpipe[1], F_DUPFD_CLOEXEC, MAX_FDS + 8);
    if (errfd < 0) _exit(127);
    /* Every source above the targets first, so dup2 never clobbers one. */
    int high[MAX_FDS];
    for (uint32_t i = 0; i < nfds; i++) {
      high[i] = fcntl(src[i], F_DUPFD_CLOEXEC, MAX_FDS + 8);
      if (high[i] < 0) child_fail(errfd, errno);
    }
    for (uint32_t i = 0; i < nfds; i++)
      if (dup2(high[i], (int)i) < 0) child_fail(errfd, errno);
    /* Everything else closes on exec (the error pipe stays open until then). */
    if (syscall(SYS_close_range, nfds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
      for (int fd = (int)nfds; fd < 1024; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (cwd && cwd[0] && chdir(cwd) < 0) child_fail(errfd, errno);
    child_fail(errfd, exec_search(file, argv, envp));
  }
  close(errpipe[1]);
  if (pid > 0) {
    int childerr = 0;
    ssize_t r;
    do r = read(errpipe[0], &childerr, sizeof childerr);
    while (r < 0 && errno == EINTR);
    if (r == sizeof childerr) {
      *err = childerr;
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    }
  }
  close(errpipe[0]);
  return pid;
}

/* Starts the child of a complete request and forgets the request. */
static void launch(struct pending *p) {
  struct cursor c = {p->frame, p->frame + p->frame_len, 0};
  get_u32(&c); /* id */
  uint32_t flags = get_u32(&c);
  uint32_t nfds = get_u32(&c);
  c.p += nfds;
  char *cwd = get_str(&c);
  char *file = get_str(&c);
  char **argv = get_strs(&c);
  char **envp = get_strs(&c);
  int err = 0;
  if (c.bad || !file || !argv || !envp || !argv[0]) err = EINVAL;
  int devnull = -1;
  for (uint32_t i = 0; !err && i < nfds; i++)
    if (p->kinds[i] == 'n' && devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) err = errno;
  int src[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) src[i] = p->kinds[i] == 'n' ? devnull : p->fds[i];
  pid_t pid = err ? -1 : fork_exec(flags, nfds, src, cwd, file, argv, envp, &err);
  if (devnull >= 0) close(devnull);
  if (err) emit("E %u %d\n", p->id, err);
  else {
    track(pid, p->id);
    emit("S %u %d\n", p->id, (int)pid);
  }
  free(cwd);
  free(file);
  free_strs(argv);
  free_strs(envp);
  pending_free(p);
}

/* Writes all of buf to fd 1, or ends this process when peapod is gone. */
static void emit_bytes(const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      exit(0);
    }
    buf += w;
    n -= (size_t)w;
  }
}

#define OUTPUT_CHUNK 65536

/*
 * Reads what output fd `fd` of run r has now (at most 16 chunks) and forwards
 * it, up to its cap; closes it at its end. Returns 1 when there may be more
 * to read at once, 0 when there is nothing now (or it is closed).
 */
static int run_read(struct run *r, int fd) {
  static char frame[OUTPUT_CHUNK + 64];
  for (int rounds = 0; rounds < 16; rounds++) {
    if (r->rfd[fd] < 0) return 0;
    ssize_t n = read(r->rfd[fd], frame + 64, OUTPUT_CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    if (n <= 0) {
      close(r->rfd[fd]);
      r->rfd[fd] = -1;
      return 0;
    }
    uint32_t room = r->cap - r->sent[fd];
    uint32_t keep = (uint32_t)n < room ? (uint32_t)n : room;
    if (keep == 0) continue;
    char head[64];
    int h = snprintf(head, sizeof head, "O %u %d %u\n", r->id, fd, keep);
    memcpy(frame + 64 - h, head, (size_t)h);
    emit_bytes(frame + 64 - h, (size_t)h + keep);
    r->sent[fd] += keep;
  }
  return 1;
}

/* The run is over: what is left in its pipes is forwarded, they are closed, its end reported. */
static void run_finish(struct run *r, int pcode, int psig) {
  for (int fd = 1; fd <= 2; fd++) {
    while (run_read(r, fd)) {
    }
    if (r->rfd[fd] >= 0) close(r->rfd[fd]);
    r->rfd[fd] = -1;
  }
  emit("D %u %d %d %d %d\n", r->id, r->code, r->sig, pcode, psig);
  free(r->pidfile);
  r->used = 0;
}

static struct reaped *reaped_lately(pid_t pid) {
  for (size_t i = 0; i < RECENT; i++)
    if (recent[i].pid == pid) return &recent[i];
  return NULL;
}

/* Reads the pid a pid file names (0 when none), and removes the file. */
static pid_t take_pidfile(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32];
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  unlink(file);
  if (n <= 0) return 0;
  buf[n] = 0;
  long v = strtol(buf, NULL, 10);
  return v > 0 && v < (1L << 30) ? (pid_t)v : 0;
}

/* The child of run r ended: learn the process it left, or finish. */
static void run_child_ended(struct run *r, int code, int sig) {
  r->child = 0;
  r->code = code;
  r->sig = sig;
  /* Read and removed whatever the end (a runc killed after writing it leaves it behind). */
  pid_t left = take_pidfile(r->pidfile);
  if (code != 0) left = 0;
  if (!left) {
    run_finish(r, -2, 0);
    return;
  }
  emit("P %u %d\n", r->id, (int)left);
  struct reaped *done = reaped_lately(left);
  if (done) run_finish(r, done->code, done->sig);
  else if (kill(left, 0) < 0 && errno == ESRCH) run_finish(r, -3, 0);
  else r->left = left;
}

static struct run *run_new(void) {
  size_t slot = nruns;
  for (size_t i = 0; i < nruns; i++)
    if (!runs[i].used) {
      slot = i;
      break;
    }
  if (slot == nruns) runs = xrealloc(runs, ++nruns * sizeof *runs);
  struct run *r = &runs[slot];
  memset(r, 0, sizeof *r);
  r->used = 1;
  r->rfd[0] = r->rfd[1] = r->rfd[2] = -1;
  return r;
}

/* Kind 3: starts a detached run (see the header). */
static void on_detached_run(const char *frame, uint32_t len) {
  struct cursor c = {frame, frame + len, 0};
  uint32_t id = get_u32(&c);
  uint32_t cap = get_u32(&c);
  if (c.bad) return;
  char *pidfile = get_str(&c);
  char *cwd = get_str(&c);
  char *file = get_str(&c);
  char **argv = get_strs(&c);
  char **envp = get_strs(&c);
  int err = 0;
  if (c.bad || !pidfile || !pidfile[0] || !file || !argv || !envp || !argv[0]) err = EINVAL;
  int devnull = -1, out[2] = {-1, -1}, errp[2] = {-1, -1};
  if (!err && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) err = errno;
  if (!err && (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)) err = errno;
  pid_t pid = -1;
  if (!err) {
    int src[3] = {devnull, out[1], errp[1]};
    pid = fork_exec(0, 3, src, cwd, file, argv, envp, &err);
  }
  if (devnull >= 0) close(devnull);
  if (out[1] >= 0) close(out[1]);
  if (errp[1] >= 0) close(errp[1]);
  if (err) {
    if (out[0] >= 0) close(out[0]);
    if (errp[0] >= 0) close(errp[0]);
    free(pidfile);
    emit("E %u %d\n", id, err);
  } else {
    struct run *r = run_new();
    r->id = id;
    r->cap = cap;
    r->child = pid;
    r->pidfile = pidfile;
    r->rfd[1] = out[0];
    r->rfd[2] = errp[0];
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    emit("S %u %d\n", id, (int)pid);
  }
  free(cwd);
  free(file);
  free_strs(argv);
  free_strs(envp);
}

static void maybe_launch(struct pending *p) {
  if (!p->have_request) return;
  for (uint32_t i = 0; i < p->nfds; i++)
    if (p->kinds[i] == 'p' && p->fds[i] < 0) return;
  launch(p);
}

static void on_spawn(const char *frame, uint32_t len) {
  struct cursor c = {frame, frame + len, 0};
  uint32_t id = get_u32(&c);
  get_u32(&c);
  uint32_t nfds = get_u32(&c);
  if (c.bad || nfds < 1 || nfds > MAX_FDS || (uint32_t)(c.end - c.p) < nfds) {
    if (!c.bad) emit("E %u %d\n", id, EINVAL);
    return;
  }
  struct pending *p = pending_for(id);
  p->have_request = 1;
  p->nfds = nfds;
  memcpy(p->kinds, c.p, nfds);
  p->frame = xrealloc(NULL, len);
  memcpy(p->frame, frame, len);
  p->frame_len = len;
  for (uint32_t i = nfds; i < MAX_FDS; i++)
    if (p->fds[i] >= 0) {
      close(p->fds[i]);
      p->fds[i] = -1;
    }
  maybe_launch(p);
}

/* A whole request frame arrived. */
static void on_request(const char *frame, uint32_t len) {
  struct cursor c = {frame, frame + len, 0};
  uint32_t kind = get_u32(&c);
  if (c.bad) return;
  if (kind == KIND_SPAWN) on_spawn(c.p, len - 4);
  else if (kind == KIND_DETACHED_RUN) on_detached_run(c.p, len - 4);
}

static void on_accept(int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid != parent_pid) {
      close(fd);
      continue;
    }
    conns = xrealloc(conns, (nconns + 1) * sizeof *conns);
    conns[nconns].fd = fd;
    conns[nconns].have = 0;
    nconns++;
  }
}

/* Reads what is there of a connection's header; returns 1 when the connection is done with (placed or closed). */
static int on_conn(struct conn *k) {
  ssize_t r = read(k->fd, k->head + k->have, (size_t)(HEADER_BYTES - k->have));
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (r <= 0) {
    close(k->fd);
    return 1;
  }
  k->have += (int)r;
  if (k->have < HEADER_BYTES) return 0;
  uint32_t id, index;
  memcpy(&id, k->head, 4);
  memcpy(&index, k->head + 4, 4);
  if (index >= MAX_FDS) {
    close(k->fd);
    return 1;
  }
  /* The child gets a blocking socket, as from a socketpair. */
  int fl = fcntl(k->fd, F_GETFL);
  if (fl >= 0) fcntl(k->fd, F_SETFL, fl & ~O_NONBLOCK);
  struct pending *p = pending_for(id);
  if (p->fds[index] >= 0) close(p->fds[index]);
  p->fds[index] = k->fd;
  maybe_launch(p);
  return 1;
}

static void reap(void) {
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid <= 0) return;
    int code = WIFSIGNALED(st) ? -1 : WEXITSTATUS(st);
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    int known = 0;
    for (size_t i = 0; i < nchildren; i++) {
      if (children[i].pid != pid) continue;
      emit("X %u %d %d\n", children[i].id, code, sig);
      children[i] = children[--nchildren];
      known = 1;
      break;
    }
    if (known) continue;
    for (size_t i = 0; i < nruns; i++)
      if (runs[i].used && runs[i].child == pid) {
        run_child_ended(&runs[i], code, sig);
        known = 1;
        break;
      }
    if (known) continue;
    recent[recent_next] = (struct reaped){pid, code, sig};
    recent_next = (recent_next + 1) % RECENT;
    for (size_t i = 0; i < nruns; i++)
      if (runs[i].used && runs[i].left == pid) {
        run_finish(&runs[i], code, sig);
        break;
      }
  }
}

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) + 2 > sizeof(((struct sockaddr_un *)0)->sun_path)) {
    fprintf(stderr, "usage: peapod-spawner SOCKET-NAME (driven by peapod-cri)\n");
    return 2;
  }
  parent_pid = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent_pid) return 0;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("PR_SET_CHILD_SUBREAPER");
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");

  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (lfd < 0) die("socket");
  struct sockaddr_un addr = {0};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path + 1, argv[1], strlen(argv[1]));
  /* The whole sun_path, NUL-padded: libuv connects to abstract names with the full address length. */
  if (bind(lfd, (struct sockaddr *)&addr, (socklen_t)sizeof addr) < 0) die("bind");
  if (listen(lfd, 512) < 0) die("listen");
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  emit("R\n");

  char *buf = NULL;
  size_t have = 0, cap = 0;
  struct pollfd *pfds = NULL;
  for (;;) {
    size_t nout = 0;
    for (size_t i = 0; i < nruns; i++)
      if (runs[i].used) nout += (runs[i].rfd[1] >= 0) + (runs[i].rfd[2] >= 0);
    size_t n = 3 + nconns + nout;
    pfds = xrealloc(pfds, n * sizeof *pfds);
    /* Which run and fd each output entry is (indexes into runs, as runs may move when it grows). */
    static size_t *outrun;
    static int *outfd;
    outrun = xrealloc(outrun, (nout + 1) * sizeof *outrun);
    outfd = xrealloc(outfd, (nout + 1) * sizeof *outfd);
    pfds[0] = (struct pollfd){.fd = 0, .events = POLLIN};
    pfds[1] = (struct pollfd){.fd = lfd, .events = POLLIN};
    pfds[2] = (struct pollfd){.fd = sfd, .events = POLLIN};
    for (size_t i = 0; i < nconns; i++) pfds[3 + i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
    size_t k = 0;
    for (size_t i = 0; i < nruns; i++)
      for (int fd = 1; runs[i].used && fd <= 2; fd++)
        if (runs[i].rfd[fd] >= 0) {
          outrun[k] = i;
          outfd[k] = fd;
          pfds[3 + nconns + k] = (struct pollfd){.fd = runs[i].rfd[fd], .events = POLLIN};
          k++;
        }
    if (poll(pfds, n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pfds[2].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
      }
      reap();
    }
    /* Outputs, after the reaping (a run it ended has read and closed its own). */
    for (size_t i = 0; i < nout; i++)
      if (pfds[3 + nconns + i].revents && runs[outrun[i]].used && runs[outrun[i]].rfd[outfd[i]] == pfds[3 + nconns + i].fd) run_read(&runs[outrun[i]], outfd[i]);
    /* Connections first (a request may be waiting for them); backwards, so
       moving the last entry into a finished one's place skips nothing. */
    for (size_t i = nconns; i-- > 0;)
      if (pfds[3 + i].revents && on_conn(&conns[i])) conns[i] = conns[--nconns];
    if (pfds[1].revents) on_accept(lfd);
    if (pfds[0].revents) {
      for (;;) {
        if (cap - have < 65536) buf = xrealloc(buf, cap = cap ? cap * 2 : 131072);
        ssize_t r = read(0, buf + have, cap - have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) return 0; /* peapod closed the channel: leave the children running */
        have += (size_t)r;
      }
      size_t off = 0;
      while (have - off >= 4) {
        uint32_t len;
        memcpy(&len, buf + off, 4);
        if (len > MAX_FRAME) {
          fprintf(stderr, "peapod-spawner: request of %u bytes\n", len);
          return 1;
        }
        if (have - off - 4 < len) break;
        on_request(buf + off + 4, len);
        off += 4 + len;
      }
      memmove(buf, buf + off, have - off);
      have -= off;
      if (cap > 262144 && have < 65536) buf = xrealloc(buf, cap = 131072);
    }
  }
}
