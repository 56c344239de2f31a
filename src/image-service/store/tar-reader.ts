/**
 * A streaming, synchronous reader of tar archives: POSIX.1-2001 pax
 * (extended and global headers), ustar (name prefix) and GNU (`L`/`K` long
 * names, base-256 numbers), the formats image layers come in (OCI
 * image-spec `layer.md` names POSIX.1-1988 ustar and pax).
 *
 * Why our own and not tar-stream: extended attributes arrive as PAX records
 * `SCHILY.xattr.<name>=<bytes>`, and their values are bytes, not text
 * (`security.capability` is a binary struct). tar-stream decodes every PAX
 * value as UTF-8, which replaces invalid sequences and loses the bytes. This
 * reader keeps PAX values as Buffers. It is also push-style and synchronous,
 * so the layer unpacker (running in a worker thread) writes each data chunk
 * as it arrives without a stream per entry.
 *
 * Bounds: an extended header or GNU long name is at most
 * `MAX_EXTENDED_HEADER_BYTES`; numbers must fit in 2^53; the header checksum
 * is verified. Entry data is handed out as slices of the pushed chunks (no
 * copy), in order, adding up to the entry's size; the reader keeps no
 * reference to a chunk once `push` returns, so the caller may reuse it.
 */
import { PeapodError } from '../../common/errors';

/** A malformed or unsupported archive; the message says what and where (byte offset). */
export class TarFormatError extends PeapodError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'TarFormatError';
  }
}

/** Entry types the reader reports (other header types are consumed or refused). */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

/** One archive member, with its pax and GNU extensions applied. */
export interface TarEntry {
  /** The member name as stored (not normalized): pax `path`, a GNU long name, or ustar prefix + name. */
  name: string;
  type: TarEntryType;
  /** Permission bits and setuid/setgid/sticky (`& 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (0 for every type but `file`). */
  size: number;
  /** Modification time in seconds since the epoch (pax may give a fraction). */
  mtime: number;
  /** Target of a symlink or hard link. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** `SCHILY.xattr.*` records: extended attribute name and value bytes, in archive order. */
  xattrs: [string, Buffer][];
  /** Byte offset of the member's header in the archive (for messages). */
  offset: number;
}

/** What a TarReader calls, in archive order: `entry`, then `data` chunks adding up to `size`, then `entryEnd`. */
export interface TarHandler {
  entry(e: TarEntry): void;
  data(chunk: Buffer): void;
  entryEnd(): void;
}

/** Largest pax extended header or GNU long name/link accepted (bytes). */
export const MAX_EXTENDED_HEADER_BYTES = 1 << 20;

const BLOCK = 512;

type State = 'header' | 'extended' | 'data' | 'padding' | 'done';

/** Parses a numeric header field: octal ASCII, or GNU base-256 when the high bit of the first byte is set. */
function parseNumber(b: Buffer, start: number, end: number, field: string, offset: number): number {
  if (b[start] & 0x80) {
    // base-256, two's complement when bit 6 of the first byte is set (as Go's archive/tar reads it)
    const negative = (b[start] & 0x40) !== 0;
    const inv = negative ? 0xff : 0;
    let x = 0;
    for (let i = start; i < end; i++) {
      let c = b[i] ^ inv;
      if (i === start) c &= 0x7f;
      x = x * 256 + c;
      if (x > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`tar header at byte ${offset}: ${field} is out of range`);
    }
    return negative ? -x - 1 : x;
  }
  let i = start;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let x = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw new TarFormatError(`tar header at byte ${offset}: ${field} is not an octal number`);
    x = x * 8 + (c - 0x30);
    digits++;
  }
  if (x > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`tar header at byte ${offset}: ${field} is out of range`);
  return digits === 0 ? 0 : x;
}

/** A NUL-terminated string field, decoded as UTF-8. */
function parseString(b: Buffer, start: number, end: number): string {
  const nul = b.indexOf(0, start);
  return b.toString('utf8', start, nul === -1 || nul > end ? end : nul);
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

function checksumOk(b: Buffer, offset: number): boolean {
  const stored = parseNumber(b, 148, 156, 'checksum', offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/**
 * Parses pax extended header records (`"%d %s=%s\n"`, the length counting
 * the whole record) into `into`: keys as UTF-8, values as bytes. An empty
 * value removes the key (POSIX: it undoes a global value).
 * @throws TarFormatError for a malformed record.
 */
export function parsePaxRecords(buf: Buffer, into: Map<string, Buffer>, offset: number): void {
  let off = 0;
  while (off < buf.length) {
    // Trailing NUL padding some writers leave is not a record.
    if (buf[off] === 0) break;
    const sp = buf.indexOf(0x20, off);
    if (sp === -1 || sp - off > 20) throw new TarFormatError(`tar pax header at byte ${offset}: malformed record length`);
    const lenText = buf.toString('latin1', off, sp);
    if (!/^[0-9]+$/.test(lenText)) throw new TarFormatError(`tar pax header at byte ${offset}: malformed record length "${lenText}"`);
    const len = Number(lenText);
    if (len <= sp - off + 1 || off + len > buf.length || buf[off + len - 1] !== 0x0a) {
      throw new TarFormatError(`tar pax header at byte ${offset}: record of length ${len} does not fit`);
    }
    const rec = buf.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError(`tar pax header at byte ${offset}: record without "key="`);
    const key = rec.toString('utf8', 0, eq);
    const value = Buffer.from(rec.subarray(eq + 1)); // a copy: the header buffer is reused
    if (value.length === 0) into.delete(key);
    else into.set(key, value);
    off += len;
  }
}

function paxNumber(v: Buffer | undefined, key: string, offset: number, fraction = false): number | undefined {
  if (v === undefined) return undefined;
  const s = v.toString('latin1');
  if (!(fraction ? /^-?[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/).test(s)) throw new TarFormatError(`tar pax header before byte ${offset}: ${key} "${s.slice(0, 40)}" is not a number`);
  const n = Number(s);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`tar pax header before byte ${offset}: ${key} is out of range`);
  return n;
}

/** Reads a tar archive pushed in chunks of any size; see the file comment. */
export class TarReader {
  private state: State = 'header';
  /** Bytes of a header or extended header gathered across chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes still to read in the current state (data, padding or extended header body). */
  private remaining = 0;
  /** Position in the archive (bytes consumed). */
  private pos = 0;
  private extendedType = '';
  private extendedOffset = 0;
  private local = new Map<string, Buffer>();
  private readonly global = new Map<string, Buffer>();
  private longName: string | undefined;
  private longLink: string | undefined;
  private inEntry = false;
  /** Data bytes of the current member (for its padding). */
  private entrySize = 0;

  constructor(private readonly handler: TarHandler) {}

  /** True once the end-of-archive marker (a zero block) was read; later bytes are ignored. */
  get ended(): boolean {
    return this.state === 'done';
  }

  /**
   * Consumes `chunk`, calling the handler for what it completes.
   * @throws TarFormatError for a malformed archive; what the handler throws passes through.
   */
  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      switch (this.state) {
        case 'done':
          this.pos += chunk.length - off;
          return;
        case 'header': {
          const need = BLOCK - this.pendingBytes;
          if (this.pendingBytes === 0 && chunk.length - off >= BLOCK) {
            const block = chunk.subarray(off, off + BLOCK);
            off += BLOCK;
            this.header(block);
          } else {
            const take = Math.min(need, chunk.length - off);
            // A copy: the caller may reuse `chunk` once push returns.
            this.pending.push(Buffer.from(chunk.subarray(off, off + take)));
            this.pendingBytes += take;
            off += take;
            if (this.pendingBytes === BLOCK) {
              const block = Buffer.concat(this.pending, BLOCK);
              this.pending = [];
              this.pendingBytes = 0;
              this.header(block);
            }
          }
          break;
        }
        case 'extended': {
          const take = Math.min(this.remaining - this.pendingBytes, chunk.length - off);
          this.pending.push(Buffer.from(chunk.subarray(off, off + take)));
          this.pendingBytes += take;
          off += take;
          this.pos += take;
          if (this.pendingBytes === this.remaining) {
            const body = Buffer.concat(this.pending, this.pendingBytes);
            this.pending = [];
            this.pendingBytes = 0;
            this.extended(body);
            this.startPadding(body.length);
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, chunk.length - off);
          if (take > 0) this.handler.data(chunk.subarray(off, off + take));
          off += take;
          this.pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.endEntry();
          break;
        }
        case 'padding': {
          const take = Math.min(this.remaining, chunk.length - off);
          off += take;
          this.pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'header';
          break;
        }
      }
    }
  }

  /**
   * Marks the end of input.
   * @throws TarFormatError when the archive stops inside a header, an
   *   extended header or an entry's data (a truncated layer). Input that
   *   ends at a member boundary without the end-of-archive blocks is
   *   accepted, as Go's archive/tar does.
   */
  finish(): void {
    if (this.state === 'done') return;
    const betweenMembers = !this.inEntry && this.local.size === 0 && this.longName === undefined && this.longLink === undefined;
    if (betweenMembers && this.state === 'header' && this.pendingBytes === 0) return;
    // Data complete, only the padding after it missing.
    if (betweenMembers && this.state === 'padding') return;
    throw new TarFormatError(`tar archive is truncated at byte ${this.pos}`);
  }

  private startPadding(size: number): void {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.remaining = pad;
    this.state = pad > 0 ? 'padding' : 'header';
  }

  private endEntry(): void {
    this.inEntry = false;
    this.handler.entryEnd();
    this.startPadding(this.entrySize);
  }

  private header(b: Buffer): void {
    const offset = this.pos;
    this.pos += BLOCK;
    if (isZeroBlock(b)) {
      this.state = 'done';
      return;
    }
    if (!checksumOk(b, offset)) throw new TarFormatError(`tar header at byte ${offset} has a bad checksum (not a tar archive, or corrupt)`);
    const flag = b[156] === 0 ? '0' : String.fromCharCode(b[156]);
    let size = parseNumber(b, 124, 136, 'size', offset);
    if (size < 0) throw new TarFormatError(`tar header at byte ${offset}: negative size`);
    switch (flag) {
      case 'x':
      case 'g':
      case 'L':
      case 'K':
        if (size > MAX_EXTENDED_HEADER_BYTES) throw new TarFormatError(`tar header at byte ${offset}: extended header of ${size} bytes is over the ${MAX_EXTENDED_HEADER_BYTES}-byte limit`);
        this.extendedType = flag;
        this.extendedOffset = offset;
        this.remaining = size;
        if (size === 0) {
          this.extended(Buffer.alloc(0));
          this.state = 'header';
        } else this.state = 'extended';
        return;
      case 'S':
      case 'M':
      case 'N':
        throw new TarFormatError(`tar header at byte ${offset}: GNU ${flag === 'S' ? 'sparse' : flag === 'M' ? 'multi-volume' : 'old long-name'} members are not supported`);
      case 'V': // GNU volume label: not a file; skip it and its data
        this.local.clear();
        this.longName = this.longLink = undefined;
        this.remaining = size + ((BLOCK - (size % BLOCK)) % BLOCK);
        this.state = this.remaining > 0 ? 'padding' : 'header';
        return;
    }
    const pax = new Map([...this.global, ...this.local]);
    this.local = new Map();
    for (const k of pax.keys()) if (k.startsWith('GNU.sparse.')) throw new TarFormatError(`tar header at byte ${offset}: sparse files (pax ${k}) are not supported`);
    const magic = b.toString('latin1', 257, 263);
    const version = b.toString('latin1', 263, 265);
    const ustar = magic === 'ustar\0' && version === '00';
    let name = parseString(b, 0, 100);
    if (ustar) {
      const prefix = parseString(b, 345, 500);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.longName !== undefined) name = this.longName;
    let linkname = this.longLink ?? parseString(b, 157, 257);
    this.longName = this.longLink = undefined;
    const paxPath = pax.get('path');
    if (paxPath) name = paxPath.toString('utf8');
    const paxLink = pax.get('linkpath');
    if (paxLink) linkname = paxLink.toString('utf8');
    size = paxNumber(pax.get('size'), 'size', offset) ?? size;
    let type: TarEntryType;
    switch (flag) {
      case '0':
      case '7':
        type = name.endsWith('/') ? 'directory' : 'file';
        break;
      case '1':
        type = 'link';
        break;
      case '2':
        type = 'symlink';
        break;
      case '3':
        type = 'character-device';
        break;
      case '4':
        type = 'block-device';
        break;
      case '5':
        type = 'directory';
        break;
      case '6':
        type = 'fifo';
        break;
      default:
        throw new TarFormatError(`tar member "${name}" (header at byte ${offset}) has an unsupported type ${JSON.stringify(flag)}`);
    }
    // Header-only types carry no data whatever the size field says (as Go's archive/tar reads them).
    if (type !== 'file') size = 0;
    const xattrs: [string, Buffer][] = [];
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.push([k.slice('SCHILY.xattr.'.length), v]);
    const entry: TarEntry = {
      name,
      type,
      mode: parseNumber(b, 100, 108, 'mode', offset) & 0o7777,
      uid: paxNumber(pax.get('uid'), 'uid', offset) ?? parseNumber(b, 108, 116, 'uid', offset),
      gid: paxNumber(pax.get('gid'), 'gid', offset) ?? parseNumber(b, 116, 124, 'gid', offset),
      size,
      mtime: paxNumber(pax.get('mtime'), 'mtime', offset, true) ?? parseNumber(b, 136, 148, 'mtime', offset),
      linkname,
      devmajor: type === 'character-device' || type === 'block-device' ? parseNumber(b, 329, 337, 'devmajor', offset) : 0,
      devminor: type === 'character-device' || type === 'block-device' ? parseNumber(b, 337, 345, 'devminor', offset) : 0,
      xattrs,
      offset,
    };
    this.inEntry = true;
    this.entrySize = size;
    this.handler.entry(entry);
    if (size === 0) this.endEntry();
    else {
      this.remaining = size;
      this.state = 'data';
    }
  }

  private extended(body: Buffer): void {
    switch (this.extendedType) {
      case 'x':
        parsePaxRecords(body, this.local, this.extendedOffset);
        break;
      case 'g':
        parsePaxRecords(body, this.global, this.extendedOffset);
        break;
      case 'L':
        this.longName = parseString(body, 0, body.length);
        break;
      case 'K':
        this.longLink = parseString(body, 0, body.length);
        break;
    }
  }
}
