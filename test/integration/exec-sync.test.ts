import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSpawnServer, stopSpawnServer } from '../../src/common/host/command';
import { PeapodError } from '../../src/common/errors';
import { ContainerEngine, EXEC_SYNC_MAX_OUTPUT } from '../../src/runtime-service/container/engine';
import { MAX_MESSAGE_BYTES } from '../../src/server/proto';
import { containerSpecOf } from '../../src/runtime-service/cri/container-config';
import type { TestPod } from './helpers/busybox-pod';
import { BusyboxEngine, closeBusyboxEngine, openBusyboxEngine } from './helpers/busybox-engine';
import { containerConfig } from './helpers/container-config';
import { until } from './helpers/wait';
import { CriStack, startCriStack } from './harness/cri-stack';
import type { TestServer } from './harness/server';


/** Runs `total` calls of `fn`, `concurrency` at a time; resolves with every failure's message. */
async function hammer(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        await fn(i).catch((err: Error) => failures.push(`#${i}: ${err.message}`));
      }
    }),
  );
  return failures;
}

/** One ExecSync's answer, or the error it failed with (its gRPC code when it came over CRI). */
type ExecAnswer = { stdout: Buffer; stderr: Buffer; exitCode: number } | { error: Error; grpcCode?: number };

/** Runs one ExecSync of a path under test. */
type RunExec = (cmd: string[], timeoutSec: number) => Promise<ExecAnswer>;

/** A process's peak resident memory since the last reset, in bytes (VmHWM). */
function peakRss(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

/** Resets a process's peak resident memory to its current one (proc(5): clear_refs 5). */
function resetPeakRss(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

function output(a: ExecAnswer): { stdout: Buffer; stderr: Buffer; exitCode: number } {
  if ('error' in a) throw a.error;
  return a;
}

/**
 * The review points every ExecSync path must hold (issue 12 items 12, 17):
 * exit codes, signals as 128+n, a timeout that kills the whole tree and
 * answers TIMED_OUT, output cut at its budget without being held in memory.
 * @param ctx the path's runner; the pid whose memory holds the output and
 *   how much its peak may grow (bytes: below what holding the whole output,
 *   or conmon's whole 64 MiB log, would take); the stdout length kept when
 *   stdout overflows after `stderrBytes` of stderr
 */
function reviewPoints(ctx: () => { run: RunExec; memoryPid: number; memoryBound: number; timedOutCode: number | string; stdoutKept: (stderrBytes: number) => number }): void {
  it('reports exit codes, and a signal N as 128+N', async () => {
    const { run } = ctx();
    const cases: [string, number][] = [
      ['exit 0', 0],
      ['exit 7', 7],
      ['exit 255', 255],
      ['kill -INT $$', 130],
      ['kill -KILL $$', 137],
      ['kill -TERM $$', 143],
    ];
    const got = await Promise.all(cases.map(async ([script]) => output(await run(['sh', '-c', script], 30)).exitCode));
    expect(got).to.deep.equal(cases.map(([, code]) => code));
  });

  it('at the timeout kills the process and everything it started, and answers timed out', async () => {
    const { run, timedOutCode } = ctx();
    const a = await run(['sh', '-c', 'sleep 4401 & sleep 4402 & sh -c "sleep 4403" & wait'], 1);
    expect('error' in a, 'the call failed').to.equal(true);
    if (!('error' in a)) return;
    expect(a.grpcCode ?? (a.error as PeapodError).code).to.equal(timedOutCode);
    expect(a.error.message).to.contain('timed out');
    // None of the tree runs any more (a killed orphan may stay a zombie of the container's init: no args then).
    const ps = output(await run(['ps', '-o', 'stat,args'], 30)).stdout.toString();
    expect(ps).to.not.match(/sleep 440[123]/);
  });

  it('cuts output beyond its budget and holds no more than that in memory', async () => {
    const { run, memoryPid, memoryBound, stdoutKept } = ctx();
    resetPeakRss(memoryPid);
    const before = peakRss(memoryPid);
    // 200 MiB on stdout after a line on stderr.
    const r = output(await run(['sh', '-c', 'echo first >&2; head -c 209715200 /dev/zero; echo'], 120));
    const grew = peakRss(memoryPid) - before;
    expect(r.exitCode).to.equal(0);
    expect(r.stderr.toString()).to.equal('first\n');
    expect(r.stdout.length).to.equal(stdoutKept(r.stderr.length));
    expect(r.stdout.every((b) => b === 0)).to.equal(true);
    expect(grew, `peak RSS grew by ${grew} bytes`).to.be.below(memoryBound);
  });
}

describe('ExecSync under concurrency (issue 12 item 12)', function () {
  this.timeout(600_000);

  describe('through peapod-cri (runc exec via the spawn server)', () => {
    let server: TestServer;
    let logRoot: string;
    let id: string;
    let stack: CriStack | undefined;

    before(async () => {
      ({ server, logRoot } = stack = await startCriStack({ logPrefix: 'peapod-execsync-logs-', pull: true }));
      const image = stack.image;
      const pc = {
        metadata: { name: 'execs', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
        log_directory: path.join(logRoot, 'execs'),
        linux: { security_context: { namespace_options: { network: 'POD' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
      };
      const podId = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
      id = (await server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: { metadata: { name: 'c', attempt: 0 }, image: { image }, command: ['sleep', '3600'], log_path: 'c/0.log' }, sandbox_config: pc })).container_id;
      await server.client.runtime.StartContainer({ container_id: id });
    });

    after(async () => {
      await stack?.stop();
    });

    it('runs 20 at once, 50 rounds: every one succeeds with its own output', async () => {
      const failures = await hammer(1000, 20, async (i) => {
        const r = await server.client.runtime.ExecSync({ container_id: id, cmd: ['sh', '-c', `echo out-${i}; echo err-${i} >&2`], timeout: 60 });
        if (r.exit_code !== 0 || Buffer.from(r.stdout).toString() !== `out-${i}\n` || Buffer.from(r.stderr).toString() !== `err-${i}\n`) {
          throw new Error(`exit ${r.exit_code}, stdout ${JSON.stringify(Buffer.from(r.stdout).toString())}, stderr ${JSON.stringify(Buffer.from(r.stderr).toString())}`);
        }
      });
      expect(failures).to.deep.equal([]);
      // Nothing of the execs stays in the bundle (the pid files are unlinked off the event loop, after the answer).
      const left = (): string[] => fs.readdirSync(path.join(server.runroot, 'containers', id)).filter((n) => n.startsWith('exec-'));
      await until(() => left().length === 0, 10_000);
      expect(left()).to.deep.equal([]);
    });

    it('writes nothing to the state database for an exec into a running container (no lock row taken and released)', async () => {
      const db = new Database(path.join(server.root, 'state.db'), { readonly: true });
      try {
        const version = (): number => db.pragma('data_version', { simple: true }) as number;
        const before = version();
        for (let i = 0; i < 3; i++) expect((await server.client.runtime.ExecSync({ container_id: id, cmd: ['true'], timeout: 10 })).exit_code).to.equal(0);
        // Another connection's commit (peapod-cri's) would bump data_version.
        expect(version(), 'data_version after three ExecSync').to.equal(before);
      } finally {
        db.close();
      }
    });

    it("passes the runtime's own message when the command cannot be started, and the exit code of a signal", async () => {
      const err = await server.client.runtime.ExecSync({ container_id: id, cmd: ['no-such-command'], timeout: 10 }).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      expect(err?.code).to.equal(grpc.status.INTERNAL);
      expect(err?.details).to.contain('no-such-command').and.contain('executable file not found');
      // Issue 17: runc's text quotes the command twice before its reason; the reason survives the bound.
      const long = await server.client.runtime.ExecSync({ container_id: id, cmd: [`/${'z'.repeat(4000)}`], timeout: 10 }).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      expect(long?.code).to.equal(grpc.status.INTERNAL);
      expect(Buffer.byteLength(long?.details ?? '')).to.be.below(4096);
      expect(long?.details).to.match(/file name too long"?$/);
      const huge = await server.client.runtime.ExecSync({ container_id: id, cmd: [`/${'z'.repeat(100 * 1024)}`], timeout: 10 }).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      expect(huge?.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(huge?.details).to.match(/^cmd\[0\]: the executable "\/z+…" \(102401 bytes\) is longer than 4096 bytes/);
      const killed = await server.client.runtime.ExecSync({ container_id: id, cmd: ['sh', '-c', 'kill -TERM $$'], timeout: 10 });
      expect(killed.exit_code).to.equal(143);
    });

    reviewPoints(() => ({
      run: async (cmd, timeout) => {
        try {
          const r = await server.client.runtime.ExecSync({ container_id: id, cmd, timeout });
          return { stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr), exitCode: r.exit_code };
        } catch (err) {
          return { error: err as Error, grpcCode: (err as grpc.ServiceError).code };
        }
      },
      memoryPid: server.child.pid!,
      // The 16 MiB reply is copied a few times on its way out (concatenation, protobuf, HTTP/2 frames): 71 MiB measured.
      memoryBound: 120 << 20,
      timedOutCode: grpc.status.DEADLINE_EXCEEDED,
      // Both outputs fit one gRPC message: stdout gets what stderr leaves (server/proto.ts, cri/exec-sync.ts).
      stdoutKept: (stderrBytes) => MAX_MESSAGE_BYTES - 1024 - stderrBytes,
    }));
  });

  describe('through conmon (the way without the spawn server)', () => {
    let pod: TestPod;
    let engine: ContainerEngine;
    let id: string;

    let fixture: BusyboxEngine | undefined;

    before(async () => {
      stopSpawnServer();
      fixture = await openBusyboxEngine('peapod-execsync-');
      ({ pod, engine } = fixture);
      const image = fixture.image;
      const rec = await engine.create(pod.sandbox, containerSpecOf(containerConfig('c', { command: ['sleep', '3600'] }), pod.sandbox).spec, image);
      id = rec.id;
      await engine.start(id);
    });

    after(() => closeBusyboxEngine(fixture));

    it('runs 20 at once, 50 rounds: every one succeeds (no exec shares a FIFO or socket of the bundle)', async () => {
      const failures = await hammer(1000, 20, async (i) => {
        const r = await engine.execSync(id, ['sh', '-c', `echo out-${i}`], 60);
        if (r.exitCode !== 0 || r.stdout.toString() !== `out-${i}\n`) throw new Error(`exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout.toString())}, stderr ${JSON.stringify(r.stderr.toString())}`);
      });
      expect(failures).to.deep.equal([]);
    });

    it("passes the runtime's own message when the command cannot be started", async () => {
      const err = await engine.execSync(id, ['no-such-command'], 10).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.contain('executable file not found');
    });

    reviewPoints(() => ({
      run: (cmd, timeout) => engine.execSync(id, cmd, timeout).then(
        (r) => r,
        (error: Error) => ({ error }),
      ),
      memoryPid: process.pid,
      // 16 MiB kept and its concatenation: 18 MiB measured; reading the whole log would take 64 MiB and more.
      memoryBound: 48 << 20,
      timedOutCode: 'TIMED_OUT',
      stdoutKept: () => EXEC_SYNC_MAX_OUTPUT,
    }));

    it('and the spawn server gives the same results', async () => {
      expect(await startSpawnServer()).to.equal(true);
      try {
        const r = await engine.execSync(id, ['sh', '-c', 'echo hi; exit 4'], 10);
        expect([r.stdout.toString(), r.exitCode]).to.deep.equal(['hi\n', 4]);
      } finally {
        stopSpawnServer();
      }
    });
  });
});
