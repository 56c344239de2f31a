import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { hashSync } from 'bcryptjs';
import { waitExit } from './server';

/** Path of Debian's distribution registry binary (package `docker-registry`). */
export const DOCKER_REGISTRY_BIN = '/usr/bin/docker-registry';

/** Options for a test registry. */
export interface TestRegistryOptions {
  /** Require HTTP Basic auth with these users (bcrypt htpasswd file). */
  htpasswd?: Record<string, string>;
  /**
   * Require Bearer token auth: the registry sends clients to `realm` and
   * accepts JWTs signed by the key of `rootCertBundle` with these issuer and
   * service names (see the token server in test/fixtures/token-server.ts).
   */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Milliseconds to wait for GET /v2/ to answer (default 15000). */
  readyTimeoutMs?: number;
}

/** A running `docker-registry serve` on 127.0.0.1 with temp storage. */
export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, the registry's host as it appears in image references. */
  host: string;
  port: number;
  /** Temp directory holding config.yml, storage/ and the log. */
  dir: string;
  child: ChildProcess;
  /** Everything the registry logged so far (stdout and stderr). */
  log(): string;
  /** Stops the registry and removes its temp directory. */
  stop(): Promise<void>;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One htpasswd line `user:$2y$…` with a bcrypt hash (the only scheme docker-registry accepts). */
export function htpasswdLine(user: string, password: string): string {
  // docker-registry (Go x/crypto/bcrypt) accepts $2a$/$2b$/$2y$ alike.
  return `${user}:${hashSync(password, 5)}`;
}

function configYaml(port: number, storage: string, dir: string, options: TestRegistryOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (options.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    fs.writeFileSync(file, Object.entries(options.htpasswd).map(([u, p]) => htpasswdLine(u, p)).join('\n') + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: peapod-test', `    path: ${file}`);
  } else if (options.token) {
    const t = options.token;
    lines.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${t.service}`, `    issuer: ${t.issuer}`, `    rootcertbundle: ${t.rootCertBundle}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Starts Debian's `docker-registry serve` on a free port of 127.0.0.1 with
 * filesystem storage in a temp dir, and waits until GET /v2/ answers (200,
 * or 401 when auth is on).
 * @throws when the registry exits early or does not answer in time (the
 *   message carries its log).
 */
export async function startRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-registry-'));
  const storage = path.join(dir, 'storage');
  fs.mkdirSync(storage);
  const port = await freePort();
  const configFile = path.join(dir, 'config.yml');
  fs.writeFileSync(configFile, configYaml(port, storage, dir, options));
  const child = spawn(DOCKER_REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const registry: TestRegistry = {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dir,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitExit(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry exited early (code ${child.exitCode}):\n${log}`);
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return registry;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await registry.stop();
      throw new Error(`docker-registry did not answer GET /v2/ in time:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
