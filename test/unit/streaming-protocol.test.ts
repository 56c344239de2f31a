import { expect } from 'chai';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Readable } from 'node:stream';
import { PeapodError } from '../../src/common/errors';
import { toGrpcStatus } from '../../src/server/status';
import { RequestCache } from '../../src/server/streaming/request-cache';
import { parseSize, resizeEvents } from '../../src/server/streaming/resize';
import { offeredProtocols } from '../../src/server/streaming/server';
import { parsePort } from '../../src/server/streaming/spdy-port-forward';
import { expectedStreamCount } from '../../src/server/streaming/spdy-remote-command';
import { encodeStatus, exitCodeStatus, internalErrorStatus, successStatus } from '../../src/server/streaming/status';
import { negotiateWebSocketProtocol, WS_REMOTE_COMMAND_PROTOCOLS } from '../../src/server/streaming/websocket';

describe('streaming request tokens', () => {
  it('hands out distinct URL-safe tokens that work once', () => {
    const cache = new RequestCache<string>();
    const a = cache.insert('a');
    const b = cache.insert('b');
    expect(a).to.match(/^[A-Za-z0-9_-]{22}$/);
    expect(a).to.not.equal(b);
    expect(cache.consume(a)).to.equal('a');
    expect(cache.consume(a)).to.equal(undefined);
    expect(cache.consume('unknown')).to.equal(undefined);
    expect(cache.consume(b)).to.equal('b');
  });

  it('expires tokens after the TTL (one minute by default)', () => {
    let now = 1_000_000;
    const cache = new RequestCache<string>(60_000, 1000, () => now);
    const t = cache.insert('x');
    now += 59_999;
    const u = cache.insert('y');
    expect(cache.consume(t)).to.equal('x');
    now += 60_000;
    expect(cache.consume(u)).to.equal(undefined);
  });

  it('refuses more than the in-flight limit with RESOURCE_EXHAUSTED, counting only live tokens', () => {
    let now = 0;
    const cache = new RequestCache<number>(1000, 3, () => now);
    for (let i = 0; i < 3; i++) cache.insert(i);
    let err: unknown;
    try {
      cache.insert(4);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(PeapodError);
    expect(toGrpcStatus(err).code).to.equal(GrpcStatus.RESOURCE_EXHAUSTED);
    now += 1000; // all expired: room again
    expect(cache.insert(5)).to.be.a('string');
    expect(cache.size).to.equal(1);
  });
});

describe('remote-command protocol details', () => {
  it('counts the streams a client opens per request and protocol version', () => {
    const base = { kind: 'exec' as const, containerId: 'c', cmd: ['x'], stdin: false, stdout: true, stderr: false, tty: false };
    expect(expectedStreamCount(base, 'v4.channel.k8s.io')).to.equal(2); // error, stdout
    expect(expectedStreamCount({ ...base, stdin: true, stderr: true }, 'v4.channel.k8s.io')).to.equal(4);
    expect(expectedStreamCount({ ...base, stdin: true, tty: true }, 'v4.channel.k8s.io')).to.equal(4); // + resize
    expect(expectedStreamCount({ ...base, stdin: true, tty: true }, 'v3.channel.k8s.io')).to.equal(4);
    expect(expectedStreamCount({ ...base, stdin: true, tty: true }, 'v2.channel.k8s.io')).to.equal(3); // no resize before v3
    expect(expectedStreamCount({ ...base, stdin: true, tty: true }, 'channel.k8s.io')).to.equal(3);
  });

  it('encodes the outcome as Status JSON (v4+) or failure text (v1-v3)', () => {
    expect(JSON.parse(encodeStatus(successStatus(), 'json')!.toString())).to.deep.equal({ metadata: {}, status: 'Success' });
    expect(encodeStatus(successStatus(), 'text')).to.equal(undefined);
    const failed = JSON.parse(encodeStatus(exitCodeStatus(42), 'json')!.toString());
    expect(failed).to.deep.include({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '42' }] } });
    expect(encodeStatus(exitCodeStatus(42), 'text')!.toString()).to.equal('command terminated with non-zero exit code: exit status 42');
    expect(JSON.parse(encodeStatus(internalErrorStatus('boom'), 'json')!.toString())).to.include({ reason: 'InternalError', code: 500 });
  });

  it('parses resize messages, several per chunk or split across chunks, skipping bad ones', async () => {
    const source = Readable.from([Buffer.from('{"Width":80,"Height":24}\n{"Wid'), Buffer.from('th":100,"Height":40}\n{"Width":-1,"Height":2}\n{"Width":1,"Height":2}')]);
    const sizes = [];
    for await (const s of resizeEvents(source)) sizes.push(s);
    expect(sizes).to.deep.equal([
      { width: 80, height: 24 },
      { width: 100, height: 40 },
      { width: 1, height: 2 },
    ]);
    expect(parseSize('not json')).to.equal(undefined);
    expect(parseSize('{"Width":70000,"Height":1}')).to.equal(undefined);
  });

  it('reads X-Stream-Protocol-Version from several header lines or a comma list', () => {
    expect(offeredProtocols(['v4.channel.k8s.io', 'v3.channel.k8s.io'])).to.deep.equal(['v4.channel.k8s.io', 'v3.channel.k8s.io']);
    expect(offeredProtocols('v4.channel.k8s.io, channel.k8s.io,')).to.deep.equal(['v4.channel.k8s.io', 'channel.k8s.io']);
    expect(offeredProtocols(undefined)).to.deep.equal([]);
  });

  it('negotiates WebSocket subprotocols in the client order; none offered means binary channels', () => {
    expect(negotiateWebSocketProtocol(['v9.x', 'v4.base64.channel.k8s.io', 'v5.channel.k8s.io'], WS_REMOTE_COMMAND_PROTOCOLS)).to.equal('v4.base64.channel.k8s.io');
    expect(negotiateWebSocketProtocol([], WS_REMOTE_COMMAND_PROTOCOLS)).to.equal('');
    expect(negotiateWebSocketProtocol(['v9.x'], WS_REMOTE_COMMAND_PROTOCOLS)).to.equal(undefined);
  });

  it('accepts port headers 1 to 65535 only', () => {
    expect(parsePort('8080')).to.equal(8080);
    expect(parsePort(' 1 ')).to.equal(1);
    for (const bad of [undefined, '', '0', '65536', '-1', '80a', '1e3']) expect(parsePort(bad)).to.equal(undefined);
  });
});
