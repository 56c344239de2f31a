import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as net from 'node:net';

/** A script that answers every TCP connection with `hello <name>` and closes. */
const SERVER_JS = `const [port, name] = process.argv.slice(1);
require('net').createServer((s) => s.end('hello ' + name)).listen(Number(port), '0.0.0.0', () => console.log('ready'));`;

/** A script that connects and prints what the server sent. */
const CLIENT_JS = `const [host, port] = process.argv.slice(1);
const s = require('net').connect(Number(port), host); let d = '';
s.setTimeout(5000, () => { console.error('timeout'); process.exit(2); });
s.on('data', (c) => (d += c)); s.on('end', () => { process.stdout.write(d); process.exit(0); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });`;

/**
 * Starts a TCP listener on 0.0.0.0:`port` inside the network namespace
 * pinned at `netnsPin` (nsenter + node); resolves once it listens.
 * Kill the returned child to stop it.
 */
export function listenInNetns(netnsPin: string, port: number, name: string): Promise<ChildProcess> {
  const child = spawn('nsenter', [`--net=${netnsPin}`, process.execPath, '-e', SERVER_JS, String(port), name], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`listener exited ${code}: ${err}`)));
  });
}

/** Connects from the host to host:port and returns what the server sent. */
export function fetchTcp(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    let d = '';
    s.setTimeout(5000, () => {
      s.destroy();
      reject(new Error(`timeout connecting to ${host}:${port}`));
    });
    s.on('data', (c) => (d += c.toString()));
    s.on('end', () => resolve(d));
    s.on('error', reject);
  });
}

/** Connects from inside the namespace `netnsPin` to host:port; returns what was sent. */
export function fetchTcpFromNetns(netnsPin: string, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('nsenter', [`--net=${netnsPin}`, process.execPath, '-e', CLIENT_JS, host, String(port)], { timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
    );
  });
}

/** Runs a command and returns its stdout (trimmed). */
export function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout.trim())));
  });
}
