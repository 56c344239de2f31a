import { expect } from 'chai';
import { PassThrough, Writable } from 'node:stream';
import { ContainerEngine, EngineImage } from '../../src/runtime-service/container/engine';
import type { TestPod } from './helpers/busybox-pod';
import { BusyboxEngine, closeBusyboxEngine, openBusyboxEngine } from './helpers/busybox-engine';
import { waitFor } from './helpers/wait';


/** Every byte value once, 0x00 to 0xff. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** A shell printf format writing ALL_BYTES (octal escapes only: no % or backslash of its own). */
const PRINTF_ALL_BYTES = Array.from({ length: 256 }, (_, i) => `\\${i.toString(8).padStart(3, '0')}`).join('');

/** A Writable keeping every byte written to it. */
function collector(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

/** Attach carries bytes exactly, both ways (issue 12 item 10: bytes ff fe arrived as ef bf bd ef bf bd). */
describe('attach carries bytes exactly (real runc, conmon)', function () {
  this.timeout(60_000);
  let pod: TestPod;
  let image: EngineImage;
  let engine: ContainerEngine;

  let fixture: BusyboxEngine | undefined;

  before(async () => {
    fixture = await openBusyboxEngine('peapod-attach-');
    ({ pod, image, engine } = fixture);
  });

  after(() => closeBusyboxEngine(fixture));

  it('passes bytes 0x00 to 0xff from the client through the container (cat) and back, unchanged', async () => {
    const rec = await engine.create(pod.sandbox, { name: 'cat', image: { name: 'busybox' }, entrypoint: ['cat'], stdin: true, stdinOnce: true }, image);
    await engine.start(rec.id);
    const stdin = new PassThrough();
    const out = collector();
    const done = engine.attach(rec.id, { stdin, stdout: out.stream, tty: false, signal: new AbortController().signal });
    // Twice, and a run of every byte value long enough to span packets.
    const sent = Buffer.concat([ALL_BYTES, ALL_BYTES, Buffer.concat(Array.from({ length: 64 }, () => ALL_BYTES))]);
    stdin.end(sent);
    await done; // stdin_once: the client's end of input ends cat, and the container
    expect(out.bytes().equals(sent), `got ${out.bytes().length} bytes: ${out.bytes().subarray(0, 32).toString('hex')}…`).to.equal(true);
  });

  it('carries a container printing bytes 0x00 to 0xff to stdout and ff fe to stderr, each on its own stream', async () => {
    const script = `while :; do printf '${PRINTF_ALL_BYTES}'; printf '\\377\\376' >&2; sleep 0.1; done`;
    const rec = await engine.create(pod.sandbox, { name: 'printer', image: { name: 'busybox' }, entrypoint: ['/bin/sh', '-c', script] }, image);
    await engine.start(rec.id);
    const out = collector();
    const err = collector();
    const client = new AbortController();
    const done = engine.attach(rec.id, { stdout: out.stream, stderr: err.stream, tty: false, signal: client.signal });
    await waitFor(() => out.bytes().includes(ALL_BYTES) && err.bytes().length >= 4, 20_000, 'a whole run of bytes on stdout and two on stderr');
    client.abort();
    await done;
    // stdout holds whole runs only (one printf is one write, one packet), stderr only ff fe pairs.
    const o = out.bytes();
    expect(o.length % 256).to.equal(0);
    for (let i = 0; i < o.length; i += 256) expect(o.subarray(i, i + 256).equals(ALL_BYTES), `run at ${i}`).to.equal(true);
    const e = err.bytes();
    expect(e.length % 2).to.equal(0);
    for (let i = 0; i < e.length; i += 2) expect(e.subarray(i, i + 2).toString('hex')).to.equal('fffe');
    await engine.remove(rec.id);
  });

  it('keeps a chatty container running while a client is attached with stdin open: its output is read, not left to block conmon', async () => {
    // On a line from the client, 8 MiB of output while the client's stdin stays open; then the container exits on its own.
    const rec = await engine.create(pod.sandbox, { name: 'chatty', image: { name: 'busybox' }, entrypoint: ['/bin/sh', '-c', 'read go; head -c 8388608 /dev/zero; echo end'], stdin: true, stdinOnce: false }, image);
    const stdin = new PassThrough();
    const out = collector();
    await engine.start(rec.id);
    const done = engine.attach(rec.id, { stdin, stdout: out.stream, tty: false, signal: new AbortController().signal });
    stdin.write('go\n');
    await done; // ends when the container's output has ended; its exit is recorded a moment later
    await waitFor(async () => (await engine.refresh(rec.id)).state === 'exited', 20_000, 'the exit recorded');
    expect(out.bytes().subarray(-4).toString()).to.equal('end\n');
    stdin.end();
    await engine.remove(rec.id);
  });
});
