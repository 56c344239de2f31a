/**
 * The busybox that goes into the stand-ins of critest's images.
 *
 * critest compares busybox's exact behaviour, e.g. the MaskedPaths spec masks
 * /bin/ls and expects `/bin/sh -c ls` to fail with `/bin/sh: ls: Permission denied`.
 * That needs a shell that EXECUTES /bin/ls, as upstream busybox (the real
 * image's) does. Debian's `busybox-static` is built with the standalone
 * shell (applets run inside the shell, /bin/ls is never executed), so it
 * cannot pass that spec; Debian's `busybox` package (dynamic, glibc) can.
 * Both packages conflict, so the dynamic one is unpacked (`apt-get download
 * busybox`, `dpkg-deb -x`) into a cache directory and copied into the images
 * with the shared libraries it needs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the unpacked Debian `busybox` package is kept between runs. */
export const BUSYBOX_CACHE_DIR = '/var/cache/peapod/critest/busybox';

/** A busybox binary to put in images, with what it needs. */
export interface BusyboxSource {
  /** Path of the binary on the host. */
  binary: string;
  /** Shared libraries it loads (absolute paths as the dynamic loader looks them up; empty for a static binary). */
  libraries: string[];
  /** True when its shell runs applets internally (Debian busybox-static): then MaskedPaths cannot pass. */
  standaloneShell: boolean;
  /** Its applet names. */
  applets: string[];
}

/**
 * Parses `ldd` output into the absolute paths the loader uses: `libc.so.6 =>
 * /lib/x86_64-linux-gnu/libc.so.6 (0x…)` gives the right-hand path, a line
 * `/lib64/ld-linux-x86-64.so.2 (0x…)` gives that path; `linux-vdso.so.1` and
 * `statically linked` give nothing.
 */
export function parseLdd(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const arrow = /=>\s*(\/\S+)/.exec(line);
    if (arrow) out.push(arrow[1]);
    else if (line.startsWith('/')) out.push(line.split(/\s+/)[0]);
  }
  return out;
}

/** True when `binary`'s shell runs `ls` even with an empty PATH (the standalone shell). */
function hasStandaloneShell(binary: string): boolean {
  const r = spawnSync(binary, ['sh', '-c', 'PATH=/nonexistent; ls / >/dev/null 2>&1'], { timeout: 10_000 });
  return r.status === 0;
}

function describe(binary: string): BusyboxSource {
  const ldd = spawnSync('ldd', [binary], { encoding: 'utf8' });
  const libraries = ldd.status === 0 ? parseLdd(ldd.stdout) : [];
  const applets = execFileSync(binary, ['--list']).toString().split('\n').map((s) => s.trim()).filter((s) => s && s !== 'busybox' && !s.includes('/'));
  return { binary, libraries, standaloneShell: hasStandaloneShell(binary), applets };
}

/** Unpacks Debian's `busybox` package into `cacheDir` with apt-get download and dpkg-deb; returns the binary's path or an error text. */
function unpackDebianBusybox(cacheDir: string): { binary?: string; error?: string } {
  const binary = path.join(cacheDir, 'root', 'bin', 'busybox');
  if (fs.existsSync(binary)) return { binary };
  fs.mkdirSync(cacheDir, { recursive: true });
  const dl = spawnSync('apt-get', ['download', 'busybox'], { cwd: cacheDir, encoding: 'utf8', timeout: 120_000 });
  const deb = fs.readdirSync(cacheDir).find((f) => /^busybox_.*\.deb$/.test(f));
  if (!deb) return { error: `apt-get download busybox failed: ${(dl.stderr || dl.stdout || String(dl.error)).trim()}` };
  const x = spawnSync('dpkg-deb', ['-x', path.join(cacheDir, deb), path.join(cacheDir, 'root')], { encoding: 'utf8' });
  if (x.status !== 0 || !fs.existsSync(binary)) return { error: `dpkg-deb -x ${deb} failed: ${x.stderr}` };
  return { binary };
}

/**
 * Picks the busybox for the images: `$PEAPOD_CRITEST_BUSYBOX` if set, else
 * Debian's dynamic `busybox` unpacked into BUSYBOX_CACHE_DIR (fetched once
 * with apt-get download), else Debian's busybox-static (/bin/busybox) with
 * a warning.
 * @param warn called with a sentence when the fallback is taken
 */
export function findBusybox(warn: (msg: string) => void, cacheDir = BUSYBOX_CACHE_DIR): BusyboxSource {
  const env = process.env.PEAPOD_CRITEST_BUSYBOX;
  if (env) return describe(env);
  const deb = unpackDebianBusybox(cacheDir);
  if (deb.binary) {
    const bb = describe(deb.binary);
    if (!bb.standaloneShell) return bb;
    warn(`${deb.binary} has a standalone shell; trying /bin/busybox`);
  } else {
    warn(deb.error ?? 'no Debian busybox package');
  }
  const bb = describe('/bin/busybox');
  if (bb.standaloneShell) {
    warn('using /bin/busybox (busybox-static), whose shell runs applets internally: the MaskedPaths spec cannot pass with it');
  }
  return bb;
}
