/*
 * peapod-mount: mount(2) and umount2(2) for peapod, without mount(8)
 * (driven by src/common/host/mount-program.ts).
 *
 * Why: util-linux's mount and umount load libmount, read /etc/fstab,
 * /proc/self/mountinfo and utab, and canonicalize paths before the one
 * system call peapod wants; that is 3-5 ms of a process per call (measured
 * here: the overlay mount(2) itself takes 1.4 ms, a bind remount 0.04 ms),
 * and a container's creation makes two mounts in series on its critical
 * path (its rootfs, then the host view's nosuid,nodev remount), a pod's
 * removal unmounts five paths. This program does only the system call.
 *
 * Usage (the subset of mount(8)'s and umount(8)'s arguments peapod uses):
 *   peapod-mount [-t TYPE] [-o OPTIONS] [SOURCE] TARGET
 *   peapod-mount --umount [-l] TARGET...
 * OPTIONS as mount(8) takes them: the flag words below become MS_* flags,
 * every other word is passed to the file system as data (lowerdir=…,
 * size=…, userxattr). With `remount` the mount's current flags (statvfs)
 * are the starting point, as mount(8) does, so `remount,bind,nosuid,nodev`
 * keeps `ro`, `noexec` and the atime mode. A relative path in the data
 * (overlay's short lower links) is relative to the working directory, as
 * with mount(8). `--umount` unmounts each TARGET once (`-l`: MNT_DETACH),
 * trying every one before it fails.
 *
 * Exit: 0; 1 for bad usage; 32 when a mount or unmount failed (mount(8)'s
 * code), with `peapod-mount: TARGET: <strerror>` on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#define MAX_DATA 65536

struct flag_word {
  const char *word;
  unsigned long set;
  unsigned long clear;
};

static const struct flag_word FLAG_WORDS[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"remount", MS_REMOUNT, 0},
    {"bind", MS_BIND, 0},
    {"rbind", MS_BIND | MS_REC, 0},
    {"noatime", MS_NOATIME, MS_RELATIME | MS_STRICTATIME},
    {"atime", 0, MS_NOATIME},
    {"relatime", MS_RELATIME, MS_NOATIME | MS_STRICTATIME},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, MS_NOATIME | MS_RELATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"defaults", 0, 0},
};

static int usage(void) {
  fprintf(stderr, "usage: peapod-mount [-t TYPE] [-o OPTIONS] [SOURCE] TARGET\n       peapod-mount --umount [-l] TARGET...\n");
  return 1;
}

/* The flags a mount has now (statvfs), as MS_* flags; 0 when it cannot be read. */
static unsigned long current_flags(const char *target) {
  struct statvfs st;
  if (statvfs(target, &st) != 0) return 0;
  unsigned long f = 0;
  if (st.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (st.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) f |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

/* Splits OPTIONS into flag words (applied to *set / *clear) and data (the rest, comma-joined). */
static int parse_options(const char *options, unsigned long *set, unsigned long *clear, char *data) {
  data[0] = 0;
  size_t used = 0;
  const char *p = options;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    int known = 0;
    for (size_t i = 0; i < sizeof FLAG_WORDS / sizeof FLAG_WORDS[0]; i++) {
      if (strlen(FLAG_WORDS[i].word) == n && strncmp(FLAG_WORDS[i].word, p, n) == 0) {
        *set = (*set & ~FLAG_WORDS[i].clear) | FLAG_WORDS[i].set;
        *clear = (*clear & ~FLAG_WORDS[i].set) | FLAG_WORDS[i].clear;
        known = 1;
        break;
      }
    }
    if (!known && n > 0) {
      if (used + n + 2 > MAX_DATA) return -1;
      if (used) data[used++] = ',';
      memcpy(data + used, p, n);
      used += n;
      data[used] = 0;
    }
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

static int do_umount(int argc, char **argv) {
  int flags = 0, i = 2, failed = 0;
  if (i < argc && strcmp(argv[i], "-l") == 0) {
    flags = MNT_DETACH;
    i++;
  }
  if (i >= argc) return usage();
  for (; i < argc; i++) {
    if (umount2(argv[i], flags) != 0) {
      fprintf(stderr, "peapod-mount: %s: %s\n", argv[i], strerror(errno));
      failed = 1;
    }
  }
  return failed ? 32 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--umount") == 0) return do_umount(argc, argv);
  const char *type = NULL, *options = "";
  const char *pos[2];
  int npos = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) type = argv[++i];
    else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) options = argv[++i];
    else if (argv[i][0] == '-') return usage();
    else if (npos < 2) pos[npos++] = argv[i];
    else return usage();
  }
  if (npos == 0) return usage();
  const char *source = npos == 2 ? pos[0] : "none";
  const char *target = pos[npos - 1];
  static char data[MAX_DATA];
  unsigned long set = 0, clear = 0;
  if (parse_options(options, &set, &clear, data) != 0) {
    fprintf(stderr, "peapod-mount: %s: options too long\n", target);
    return 1;
  }
  unsigned long flags = set;
  if (set & MS_REMOUNT) {
    /* Remount: the mount's current flags, changed by the words given (mount(8) does the same). */
    unsigned long atime = set & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
    unsigned long cur = current_flags(target);
    if (atime) cur &= ~(MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
    flags = (cur & ~clear) | set;
    if (npos == 1) source = NULL;
  }
  if (mount(source, target, (set & MS_REMOUNT) || (set & MS_BIND) ? NULL : type, flags, data[0] ? data : NULL) != 0) {
    fprintf(stderr, "peapod-mount: %s: %s\n", target, strerror(errno));
    return 32;
  }
  return 0;
}
