import { expect } from 'chai';
import * as tar from 'tar-stream';
import { MAX_EXTENDED_HEADER_BYTES, parsePaxRecords, TarEntry, TarFormatError, TarReader } from '../../src/image-service/store/tar-reader';
import { paxRecords } from '../fixtures/image-builder';

/** A ustar header block (name ≤ 100 bytes), checksum filled in. */
function header(h: { name: string; size?: number; type?: string; mode?: number; linkname?: string; sizeField?: Buffer; uidField?: Buffer; prefix?: string; magic?: string }): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, 'utf8');
  b.write((h.mode ?? 0o644).toString(8).padStart(7, '0') + '\0', 100, 'latin1');
  if (h.uidField) h.uidField.copy(b, 108);
  else b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  if (h.sizeField) h.sizeField.copy(b, 124);
  else b.write((h.size ?? 0).toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  b.write('14000000000\0', 136, 'latin1');
  b.write(h.type ?? '0', 156, 'latin1');
  if (h.linkname) b.write(h.linkname, 157, 100, 'utf8');
  b.write(h.magic ?? 'ustar\0' + '00', 257, 'latin1');
  if (h.prefix) b.write(h.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

function pad(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

const END = Buffer.alloc(1024);

/** Reads `archive` pushed in chunks of `chunk` bytes; returns entries with their data. */
function read(archive: Buffer, chunk = archive.length): { entry: TarEntry; data: Buffer }[] {
  const out: { entry: TarEntry; data: Buffer[] }[] = [];
  const r = new TarReader({
    entry: (e) => out.push({ entry: e, data: [] }),
    data: (c) => out[out.length - 1].data.push(Buffer.from(c)),
    entryEnd: () => undefined,
  });
  for (let i = 0; i < archive.length; i += chunk) r.push(archive.subarray(i, i + chunk));
  r.finish();
  return out.map((o) => ({ entry: o.entry, data: Buffer.concat(o.data) }));
}

async function packed(entries: { header: Partial<tar.Header> & { name: string }; content?: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) await new Promise<void>((res, rej) => pack.entry(e.header, e.content ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('tar reader (layer archives)', () => {
  it('reads what tar-stream packs: files, directories, links, devices, long names, at any chunk size', async () => {
    const long = 'd'.repeat(120) + '/' + 'f'.repeat(150);
    const archive = await packed([
      { header: { name: 'etc/', type: 'directory', mode: 0o755 } },
      { header: { name: 'etc/hosts', type: 'file', mode: 0o4755, uid: 12, gid: 34, mtime: new Date('2021-05-06T07:08:09Z') }, content: Buffer.from('127.0.0.1 localhost\n') },
      { header: { name: 'etc/link', type: 'symlink', linkname: '../etc/hosts' } },
      { header: { name: 'etc/hard', type: 'link', linkname: 'etc/hosts' } },
      { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 } },
      { header: { name: long, type: 'file' }, content: Buffer.alloc(3000, 7) },
    ]);
    for (const chunk of [archive.length, 512, 100, 1]) {
      const got = read(archive, chunk);
      expect(got.map((g) => [g.entry.name, g.entry.type])).to.deep.equal([
        ['etc/', 'directory'],
        ['etc/hosts', 'file'],
        ['etc/link', 'symlink'],
        ['etc/hard', 'link'],
        ['dev/null', 'character-device'],
        [long, 'file'],
      ]);
      const hosts = got[1].entry;
      expect([hosts.mode, hosts.uid, hosts.gid, hosts.size, hosts.mtime]).to.deep.equal([0o4755, 12, 34, 20, Date.parse('2021-05-06T07:08:09Z') / 1000]);
      expect(got[1].data.toString()).to.equal('127.0.0.1 localhost\n');
      expect(got[2].entry.linkname).to.equal('../etc/hosts');
      expect([got[4].entry.devmajor, got[4].entry.devminor]).to.deep.equal([1, 3]);
      expect(got[5].data.equals(Buffer.alloc(3000, 7))).to.equal(true);
    }
  });

  it('keeps SCHILY.xattr values as bytes, including bytes that are not UTF-8', () => {
    const cap = Buffer.from('0100000280000000000000000000000000000000', 'hex'); // cap_setuid+ep
    const odd = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x3d]);
    const records = paxRecords([
      ['SCHILY.xattr.security.capability', cap],
      ['SCHILY.xattr.user.odd', odd],
      ['mtime', Buffer.from('1700000000.25')],
    ]);
    const archive = Buffer.concat([header({ name: 'PaxHeaders/ping', type: 'x', size: records.length }), pad(records), header({ name: 'bin/ping', size: 1 }), pad(Buffer.from('x')), END]);
    const [e] = read(archive, 7);
    expect(e.entry.name).to.equal('bin/ping');
    expect(e.entry.mtime).to.equal(1700000000.25);
    expect(e.entry.xattrs.map(([k, v]) => [k, v.toString('hex')])).to.deep.equal([
      ['security.capability', cap.toString('hex')],
      ['user.odd', odd.toString('hex')],
    ]);
  });

  it('applies pax path, linkpath and size, global headers, GNU long names, the ustar prefix and base-256 numbers', () => {
    const local = paxRecords([['path', Buffer.from('from/pax')], ['size', Buffer.from('5')]]);
    const global = paxRecords([['SCHILY.xattr.user.all', Buffer.from('g')]]);
    const longName = Buffer.from('gnu/' + 'n'.repeat(200) + '\0');
    const longLink = Buffer.from('gnu/' + 't'.repeat(150) + '\0');
    const base256 = Buffer.alloc(12);
    base256[0] = 0x80;
    base256.writeUInt32BE(3, 8);
    const uid256 = Buffer.alloc(8);
    uid256[0] = 0x80;
    uid256.writeUInt32BE(70000, 4);
    const archive = Buffer.concat([
      header({ name: 'g', type: 'g', size: global.length }),
      pad(global),
      header({ name: 'x', type: 'x', size: local.length }),
      pad(local),
      header({ name: 'ignored', size: 0 }),
      pad(Buffer.from('hello')),
      header({ name: '././@LongLink', type: 'L', size: longName.length }),
      pad(longName),
      header({ name: '././@LongLink', type: 'K', size: longLink.length }),
      pad(longLink),
      header({ name: 'short', type: '2', linkname: 'short-target' }),
      header({ name: 'file', prefix: 'with/prefix', sizeField: base256, uidField: uid256 }),
      pad(Buffer.from('abc')),
      END,
    ]);
    const got = read(archive, 333);
    expect(got.map((g) => g.entry.name)).to.deep.equal(['from/pax', 'gnu/' + 'n'.repeat(200), 'with/prefix/file']);
    expect(got[0].data.toString()).to.equal('hello');
    expect(got[1].entry.linkname).to.equal('gnu/' + 't'.repeat(150));
    expect(got[2].data.toString()).to.equal('abc');
    expect(got[2].entry.uid).to.equal(70000);
    // the global header applies to every later member
    for (const g of got) expect(g.entry.xattrs.map(([k, v]) => [k, v.toString()])).to.deep.equal([['user.all', 'g']]);
  });

  it('treats an old-style file whose name ends in "/" as a directory, and ignores what follows the end blocks', () => {
    const archive = Buffer.concat([header({ name: 'olddir/', type: '\0' }), END, Buffer.from('trailing garbage')]);
    expect(read(archive).map((g) => [g.entry.name, g.entry.type])).to.deep.equal([['olddir/', 'directory']]);
  });

  it('refuses a bad checksum, a truncated archive, an oversized extended header and sparse files, naming the offset', () => {
    const good = header({ name: 'a', size: 600 });
    const bad = Buffer.from(good);
    bad[0] ^= 1;
    expect(() => read(bad)).to.throw(TarFormatError, /byte 0 has a bad checksum/);
    expect(() => read(Buffer.concat([good, Buffer.alloc(100)]))).to.throw(TarFormatError, /truncated at byte 612/);
    expect(() => read(good.subarray(0, 300))).to.throw(TarFormatError, /truncated/);
    expect(() => read(header({ name: 'x', type: 'x', size: MAX_EXTENDED_HEADER_BYTES + 1 }))).to.throw(TarFormatError, /over the 1048576-byte limit/);
    expect(() => read(Buffer.concat([header({ name: 's', type: 'S' }), END]))).to.throw(TarFormatError, /sparse/);
    const sparse = paxRecords([['GNU.sparse.major', Buffer.from('1')]]);
    expect(() => read(Buffer.concat([header({ name: 'x', type: 'x', size: sparse.length }), pad(sparse), header({ name: 'f' }), END]))).to.throw(TarFormatError, /sparse/);
    expect(() => read(Buffer.concat([header({ name: 'weird', type: 'Z' }), END]))).to.throw(TarFormatError, /"weird".*unsupported type "Z"/);
  });

  it('refuses malformed pax records', () => {
    expect(() => parsePaxRecords(Buffer.from('99 path=x\n'), new Map(), 0)).to.throw(TarFormatError, /does not fit/);
    expect(() => parsePaxRecords(Buffer.from('x path=y\n'), new Map(), 0)).to.throw(TarFormatError, /record length/);
    expect(() => parsePaxRecords(Buffer.from('9 pathy\n\n'), new Map(), 0)).to.throw(TarFormatError);
    const m = new Map<string, Buffer>([['path', Buffer.from('old')]]);
    parsePaxRecords(Buffer.from('8 path=\n'), m, 0);
    expect(m.has('path')).to.equal(false);
  });
});
