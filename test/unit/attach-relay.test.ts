import { expect } from 'chai';
import { AttachFrameDecoder, AttachPacket } from '../../src/conmon/attach-relay';

/** Feeds chunks to a decoder and collects its packets (or its error). */
async function decode(chunks: Buffer[]): Promise<{ packets: AttachPacket[]; error?: Error }> {
  const d = new AttachFrameDecoder();
  const packets: AttachPacket[] = [];
  d.on('data', (p: AttachPacket) => packets.push(p));
  const done = new Promise<Error | undefined>((resolve) => {
    d.once('end', () => resolve(undefined));
    d.once('error', resolve);
  });
  for (const c of chunks) d.write(c);
  d.end();
  return { packets, error: await done };
}

/** A frame as the relay writes it: 4-byte big-endian length, then the packet (pipe byte first). */
function frame(pipe: number, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length + 1);
  return Buffer.concat([len, Buffer.from([pipe]), data]);
}

describe('attach relay frames (conmon/attach-relay.ts)', () => {
  it('splits frames into packets whatever the chunking, bytes unchanged', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const stream = Buffer.concat([frame(2, all), frame(3, Buffer.from([0xff, 0xfe])), frame(2, Buffer.from('\n'))]);
    for (const size of [1, 3, 7, 300, stream.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      const { packets, error } = await decode(chunks);
      expect(error).to.equal(undefined);
      expect(packets.map((p) => [p.pipe, p.data.toString('hex')])).to.deep.equal([
        [2, all.toString('hex')],
        [3, 'fffe'],
        [2, '0a'],
      ]);
    }
  });

  it('refuses a frame larger than any packet and a stream cut in a frame', async () => {
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(1 << 20);
    expect((await decode([huge])).error?.message).to.contain('frame of 1048576 bytes');
    expect((await decode([frame(2, Buffer.from('abc')).subarray(0, 6)])).error?.message).to.contain('cut frame');
  });
});
