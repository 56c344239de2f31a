import * as fs from 'node:fs';

/**
 * The bounded output of an ExecSync: stdout and stderr kept as they arrive,
 * each at most `perStream` bytes and both together at most `total`, stderr
 * first (stdout is what gets cut when both do not fit: what a probe or a
 * user needs to see of a failure is on stderr). Memory held never exceeds
 * `total` (plus one chunk): when stderr grows, stdout's tail beyond the new
 * room is dropped, which gives exactly stdout[0 : total - |stderr|].
 */
export class ExecOutput {
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private readonly err: Buffer[] = [];
  private errBytes = 0;

  /**
   * @param perStream bytes kept of each stream
   * @param total bytes kept of both together
   */
  constructor(
    private readonly perStream: number,
    private readonly total: number,
  ) {}

  /** Adds bytes of one stream (copied: the caller may reuse its buffer; what is beyond the bounds is dropped). */
  add(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (stream === 'stderr') {
      const room = Math.min(this.perStream, this.total) - this.errBytes;
      if (room <= 0) return;
      const d = Buffer.from(data.length > room ? data.subarray(0, room) : data);
      this.err.push(d);
      this.errBytes += d.length;
      this.trimStdout();
      return;
    }
    const room = Math.min(this.perStream, this.total - this.errBytes) - this.outBytes;
    if (room <= 0) return;
    const d = Buffer.from(data.length > room ? data.subarray(0, room) : data);
    this.out.push(d);
    this.outBytes += d.length;
  }

  private trimStdout(): void {
    let excess = this.outBytes - Math.min(this.perStream, this.total - this.errBytes);
    while (excess > 0) {
      const last = this.out[this.out.length - 1];
      if (last.length <= excess) {
        this.out.pop();
        this.outBytes -= last.length;
        excess -= last.length;
      } else {
        this.out[this.out.length - 1] = last.subarray(0, last.length - excess);
        this.outBytes -= excess;
        excess = 0;
      }
    }
  }

  /** The stdout kept so far, one Buffer (a copy: at most min(perStream, total - stderr's length) bytes). */
  get stdout(): Buffer {
    return Buffer.concat(this.out);
  }

  /** The stderr kept so far, one Buffer (a copy: at most min(perStream, total) bytes). */
  get stderr(): Buffer {
    return Buffer.concat(this.err);
  }
}

/** Bytes read at a time from a log file. */
const READ_CHUNK = 256 * 1024;
/** Longest log line kept: conmon writes records of at most 8 KiB of text; longer is not its log. */
const MAX_LINE = 64 * 1024;

/**
 * Reads a conmon k8s-file log (`<time> <stream> <P|F> <text>` lines; a full
 * line `F` ends with a newline, a partial one `P` does not) into `into`,
 * streaming: one reused chunk at a time, never the whole file, so memory
 * stays within the output's bounds however long the log is. A missing file
 * is no output; a line over 64 KiB is not a record and is skipped.
 */
export async function readLogInto(file: string, into: ExecOutput): Promise<void> {
  let h: fs.promises.FileHandle;
  try {
    h = await fs.promises.open(file, 'r');
  } catch {
    return;
  }
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    /** The start of a line the last chunk ended in (a copy), or 'skip' while passing an overlong line. */
    let carry: Buffer | 'skip' | undefined;
    for (;;) {
      const { bytesRead } = await h.read(buf, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      const data = buf.subarray(0, bytesRead);
      let pos = 0;
      let nl = data.indexOf(0x0a);
      if (carry !== undefined) {
        if (nl < 0) {
          carry = carry === 'skip' || carry.length + data.length > MAX_LINE ? 'skip' : Buffer.concat([carry, data]);
          continue;
        }
        if (carry !== 'skip' && carry.length + nl <= MAX_LINE) addLogLine(Buffer.concat([carry, data.subarray(0, nl)]), into);
        carry = undefined;
        pos = nl + 1;
        nl = data.indexOf(0x0a, pos);
      }
      for (; nl >= 0; nl = data.indexOf(0x0a, pos)) {
        addLogLine(data.subarray(pos, nl), into);
        pos = nl + 1;
      }
      if (pos < data.length) carry = data.length - pos > MAX_LINE ? 'skip' : Buffer.from(data.subarray(pos));
    }
    if (carry !== undefined && carry !== 'skip') addLogLine(carry, into);
  } finally {
    await h.close();
  }
}

const NEWLINE = Buffer.from('\n');

/** One log line's text (and its newline when the record is full) into the output. */
function addLogLine(line: Buffer, into: ExecOutput): void {
  if (line.length > MAX_LINE) return;
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  if (s2 < 0) return;
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return;
  into.add(stream, line.subarray(Math.min(line.length, s2 + 3)));
  if (line[s2 + 1] === 0x46 /* F */) into.add(stream, NEWLINE);
}
