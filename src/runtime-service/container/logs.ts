import * as fs from 'node:fs';

/**
 * Helpers for the CRI log format conmon writes:
 * `<RFC3339Nano time> <stdout|stderr> <P|F> <text>\n` (kubernetes/cri-api
 * constants: LogTagPartial `P`, LogTagFull `F`).
 */

/** One parsed record. */
export interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  tag: 'P' | 'F';
  text: string;
}

/** Parses one log line; undefined when it is not a CRI record. */
export function parseLogLine(line: string): LogRecord | undefined {
  const m = /^(\S+) (stdout|stderr) ([PF]) ?(.*)$/s.exec(line);
  if (!m) return undefined;
  return { time: m[1], stream: m[2] as LogRecord['stream'], tag: m[3] as LogRecord['tag'], text: m[4] };
}

/**
 * Joins a log's records into complete lines per stream (P records continue
 * until the next F of the same stream), as the kubelet reads them.
 */
export function joinLogLines(text: string): { stream: 'stdout' | 'stderr'; line: string }[] {
  const out: { stream: 'stdout' | 'stderr'; line: string }[] = [];
  const pending: Record<string, string> = { stdout: '', stderr: '' };
  for (const raw of text.split('\n')) {
    const r = parseLogLine(raw);
    if (!r) continue;
    pending[r.stream] += r.text;
    if (r.tag === 'F') {
      out.push({ stream: r.stream, line: pending[r.stream] });
      pending[r.stream] = '';
    }
  }
  return out;
}

/** Formats a time as RFC 3339 with nanoseconds and a `+00:00`-style zone, like conmon. */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1000000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1000000000n).toString().padStart(9, '0');
  return `${iso}.${frac}Z`;
}

/**
 * After a container ended: if the last record of a stream is a partial
 * (`P`) one — conmon 2.1.6 leaves it when output ends without a newline —
 * appends an empty full (`F`) record for that stream, so that readers see
 * the last line as complete.
 *
 * @param file the container's log file; a missing file is ignored
 * @param nowNs the time stamped on the closing records (ns since epoch)
 * @returns the streams that were closed
 */
export function closePartialLogLines(file: string, nowNs: bigint): string[] {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch {
    return [];
  }
  try {
    const size = fs.fstatSync(fd).size;
    // A record is at most conmon's buffer plus header; read enough of the tail to see each stream's last.
    const want = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(want);
    fs.readSync(fd, buf, 0, want, size - want);
    const lines = buf.toString('utf8').split('\n');
    if (want < size) lines.shift();
    const last: Record<string, 'P' | 'F' | undefined> = {};
    for (const l of lines) {
      const r = parseLogLine(l);
      if (r) last[r.stream] = r.tag;
    }
    const closed = (['stdout', 'stderr'] as const).filter((s) => last[s] === 'P');
    if (closed.length > 0) {
      const needNl = size > 0 && buf[buf.length - 1] !== 0x0a ? '\n' : '';
      const ts = rfc3339Nano(nowNs);
      fs.writeSync(fd, needNl + closed.map((s) => `${ts} ${s} F \n`).join(''), size);
    }
    return closed;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Splits a k8s-file log (as written by conmon for an exec session) back into
 * the raw stdout and stderr bytes: a full (`F`) record ends with a newline,
 * a partial (`P`) one does not. Each stream is cut at `max` bytes.
 */
export function splitLogStreams(log: Buffer, max: number): { stdout: Buffer; stderr: Buffer } {
  const parts: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  const size = { stdout: 0, stderr: 0 };
  const nl = Buffer.from('\n');
  let pos = 0;
  while (pos < log.length) {
    let end = log.indexOf(0x0a, pos);
    if (end < 0) end = log.length;
    const line = log.subarray(pos, end);
    pos = end + 1;
    const s1 = line.indexOf(0x20);
    const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
    if (s2 < 0) continue;
    const stream = line.subarray(s1 + 1, s2).toString();
    if (stream !== 'stdout' && stream !== 'stderr') continue;
    const tag = line[s2 + 1];
    const text = line.subarray(Math.min(line.length, s2 + 3));
    for (const chunk of tag === 0x46 /* F */ ? [text, nl] : [text]) {
      const room = max - size[stream];
      if (room <= 0) break;
      const c = chunk.subarray(0, room);
      parts[stream].push(c);
      size[stream] += c.length;
    }
  }
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr) };
}
