/**
 * Starts peapod-cri for the benchmark: temp socket/root/runroot, a CNI
 * network of the benchmark's own, and optional node flags (e.g. --cpu-prof)
 * so a run can be profiled.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectCri, waitForCri } from '../test/integration/harness/client';
import { PEAPOD_CRI_MAIN, waitExit } from '../test/integration/harness/server';
import { removeTree } from './cleanup';
import { findProcesses } from './procs';
import type { RuntimeUnderTest } from './runtime';

/** Options of a benchmarked peapod-cri. */
export interface PeapodOptions {
  /** Directory holding the CNI .conflist. */
  cniConfDir: string;
  /** Flags for node before the script, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"]. */
  nodeFlags: string[];
  /** Directory of timing wrappers for runc, conmon and the CNI plugins (see tool-timing.ts); absent: the real binaries. */
  toolDir?: string;
  /** TOML put before the benchmark's own keys, e.g. `log_level = "debug"`. */
  extraConfig?: string;
  /** peapod-cri's main script to run (default: this build's), e.g. another build's to compare against. */
  serverMain?: string;
}

/**
 * Starts peapod-cri and waits for Version to answer.
 * @throws when it exits early or does not answer within 20 s
 */
export async function startPeapod(options: PeapodOptions): Promise<RuntimeUnderTest> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-bench-'));
  const socket = path.join(dir, 'peapod.sock');
  const runroot = path.join(dir, 'runroot');
  const configFile = path.join(dir, 'peapod.conf');
  const tools = options.toolDir;
  fs.writeFileSync(
    configFile,
    `${options.extraConfig ? `${options.extraConfig}\n` : ''}[network]\ncni_conf_dir = "${options.cniConfDir}"\ncni_bin_dirs = ["${tools ?? '/usr/lib/cni'}"]\n` +
      (tools ? `[runtime]\nconmon_path = "${tools}/conmon"\n[runtime.runtimes.runc]\nruntime_path = "${tools}/runc"\n` : ''),
  );
  const confD = path.join(dir, 'peapod.conf.d');
  fs.mkdirSync(confD);
  const logFd = fs.openSync(path.join(dir, 'peapod-cri.log'), 'a');
  const child = spawn(
    process.execPath,
    [...options.nodeFlags, options.serverMain ?? PEAPOD_CRI_MAIN, '--config', configFile, '--config-dir', confD, '--socket', socket, '--root', path.join(dir, 'root'), '--runroot', runroot],
    { stdio: ['ignore', 'ignore', logFd] },
  );
  fs.closeSync(logFd);
  const client = connectCri(socket);
  const ready = await waitForCri(client, () => child.exitCode !== null, 20_000);
  if (ready === 'exited') throw new Error(`peapod-cri exited early; see ${dir}/peapod-cri.log`);
  if (ready === 'timeout') {
    child.kill('SIGKILL');
    throw new Error(`peapod-cri did not answer; see ${dir}/peapod-cri.log`);
  }
  return {
    name: 'peapod',
    socket,
    client,
    serverPid: () => child.pid!,
    monitorPids: () => findProcesses((a) => path.basename(a[0]) === 'conmon' && a.some((s) => s.startsWith(runroot))).map((p) => p.pid),
    async stop() {
      client.close();
      if (child.exitCode === null) child.kill('SIGTERM');
      await waitExit(child);
      // Stray monitors (none after a clean teardown) would pin the dir.
      for (const p of findProcesses((a) => a.some((s) => s.startsWith(dir)))) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (!process.env.PEAPOD_BENCH_KEEP) removeTree(dir);
    },
  };
}
