import { expect } from 'chai';
import { MAX_MESSAGE_BYTES } from '../../src/common/bounded-text';
import { createLogger } from '../../src/common/logger';
import { createCliLogger } from '../../src/cli/log';

const MIB = 1024 * 1024;

/**
 * Issue 17 (second pass): the server log wrote whole inputs (a 1 MiB host
 * IP, runtime handler, pod CIDR, runc's stderr) in megabyte lines. Every
 * line is bounded now: the logged object's strings, the message, an error.
 */
describe('bounded log lines (src/common/logger.ts)', () => {
  it("bounds the server's JSON lines: fields, nested fields, arrays, the message and an error's message and stack", () => {
    const lines: string[] = [];
    const log = createLogger('info', 'peapod-cri', { write: (s: string) => void lines.push(s) });
    const big = 'x'.repeat(MIB);
    const err = Object.assign(new Error(`runc failed: ${big}`), { stderr: big });
    log.error({ method: '/runtime.v1.RuntimeService/RunPodSandbox', hostIp: big, req: { pod_cidr: big, list: Array(1000).fill('a') }, err }, big);
    expect(lines).to.have.length(1);
    expect(Buffer.byteLength(lines[0])).to.be.below(12 * MAX_MESSAGE_BYTES);
    const rec = JSON.parse(lines[0]) as { hostIp: string; msg: string; req: { pod_cidr: string; list: string[] }; err: { message: string; stack: string; stderr: string; type: string }; method: string };
    expect(rec.method).to.equal('/runtime.v1.RuntimeService/RunPodSandbox');
    for (const s of [rec.hostIp, rec.msg, rec.req.pod_cidr, rec.err.message, rec.err.stack, rec.err.stderr]) {
      expect(Buffer.byteLength(s)).to.be.at.most(MAX_MESSAGE_BYTES);
      expect(s.endsWith('…')).to.equal(true);
    }
    expect(rec.err.type).to.equal('Error');
    expect(rec.req.list).to.have.length(65);
    expect(rec.req.list[64]).to.equal('… 1000 entries in all');
  });

  it("bounds the CLI's text lines the same way", () => {
    const lines: string[] = [];
    const log = createCliLogger('info', { write: (l) => lines.push(l) });
    log.error({ err: new Error('y'.repeat(MIB)), name: 'n'.repeat(MIB) }, 'removal failed');
    expect(lines).to.have.length(1);
    expect(Buffer.byteLength(lines[0])).to.be.below(4 * MAX_MESSAGE_BYTES);
  });
});
