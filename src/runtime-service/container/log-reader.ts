/**
 * Reading a container's k8s-file log (what conmon writes) back as the bytes
 * the container printed, exactly, binary included: each record is
 * `<time> <stream> <P|F> <content>\n`, where conmon cut the output at
 * newlines (a full `F` record's content lost its newline, a partial `P`
 * record's had none), so output = content of P records, content + "\n" of
 * F records. Parsing works on bytes: no text decoding, so no byte sequence
 * is altered.
 */
import * as fs from 'node:fs';

/** One record of the log. */
export interface LogChunk {
  stream: 'stdout' | 'stderr';
  /** The record's RFC 3339 time, as written. */
  time: string;
  /** True for a `P` record (no newline after its content). */
  partial: boolean;
  /** The content, without the record's terminating newline. */
  content: Buffer;
}

const NL = 0x0a;
const SP = 0x20;

/** The bytes the record stands for: its content, plus the newline a full record lost. */
export function chunkBytes(c: LogChunk): Buffer {
  return c.partial ? c.content : Buffer.concat([c.content, Buffer.from([NL])]);
}

/** Parses one record (without its newline); undefined for a line that is not one. */
export function parseLogRecord(line: Buffer): LogChunk | undefined {
  const s1 = line.indexOf(SP);
  if (s1 <= 0) return undefined;
  const s2 = line.indexOf(SP, s1 + 1);
  if (s2 < 0) return undefined;
  const stream = line.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line[s2 + 1];
  if (tag !== 0x50 /* P */ && tag !== 0x46 /* F */) return undefined;
  if (line.length > s2 + 2 && line[s2 + 2] !== SP) return undefined;
  return { stream, time: line.toString('latin1', 0, s1), partial: tag === 0x50, content: line.subarray(Math.min(line.length, s2 + 3)) };
}

/**
 * Splits whole records out of `buf`.
 * @returns the records and how many bytes of `buf` they took (a trailing
 *   record without its newline is left for the next read).
 */
export function parseLogRecords(buf: Buffer): { chunks: LogChunk[]; used: number } {
  const chunks: LogChunk[] = [];
  let pos = 0;
  for (;;) {
    const end = buf.indexOf(NL, pos);
    if (end < 0) break;
    const c = parseLogRecord(buf.subarray(pos, end));
    if (c) chunks.push(c);
    pos = end + 1;
  }
  return { chunks, used: pos };
}

/** Most bytes one `readLogFrom` call reads. */
export const LOG_READ_BYTES = 256 * 1024;

/**
 * Reads the whole records of `file` from byte `offset` on (at most
 * `maxBytes`, default 256 KiB, but always at least one record when the
 * file has one).
 * @returns the records and the offset after them; a file that shrank
 *   (rotated, truncated) is read from its start; a missing file gives none.
 */
export function readLogFrom(file: string, offset: number, maxBytes = LOG_READ_BYTES): { chunks: LogChunk[]; offset: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return { chunks: [], offset };
  }
  try {
    const size = fs.fstatSync(fd).size;
    let from = size < offset ? 0 : offset;
    const chunks: LogChunk[] = [];
    let want = Math.min(size - from, maxBytes);
    while (want > 0) {
      const buf = Buffer.alloc(want);
      const n = fs.readSync(fd, buf, 0, want, from);
      const { chunks: got, used } = parseLogRecords(buf.subarray(0, n));
      chunks.push(...got);
      from += used;
      // No newline in the whole window: one record is longer than it; read on until one ends.
      if (used === 0 && from + n < size) want = Math.min(size - from, want * 2);
      else break;
    }
    return { chunks, offset: from };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The last `lines` lines of a log (a line: records up to and including a
 * full one, per stream, as `logs --tail` counts them), from at most the last
 * `windowBytes` of the file (default 16 MiB).
 */
export function tailLog(file: string, lines: number, windowBytes = 16 * 1024 * 1024): LogChunk[] {
  if (lines <= 0) return [];
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return [];
  }
  const start = Math.max(0, size - windowBytes);
  const fd = fs.openSync(file, 'r');
  let buf: Buffer;
  try {
    buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
  } finally {
    fs.closeSync(fd);
  }
  // A window that starts mid-record drops that partial first record.
  const from = start > 0 ? buf.indexOf(NL) + 1 : 0;
  const { chunks } = parseLogRecords(buf.subarray(from));
  let seen = 0;
  for (let i = chunks.length - 1; i >= 0; i--) {
    if (!chunks[i].partial || i === chunks.length - 1) {
      if (seen === lines) return chunks.slice(i + 1);
      seen++;
    }
  }
  return chunks;
}
