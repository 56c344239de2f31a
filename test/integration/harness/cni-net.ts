import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A throwaway CNI network for one test run: bridge + host-local + portmap. */
export interface TestCniNetwork {
  /** Directory holding the .conflist (config key network.cni_conf_dir). */
  confDir: string;
  /** The network name (unique per run). */
  name: string;
  /** The Linux bridge (unique per run), made beforehand with the gateway IP. */
  bridge: string;
  /** e.g. 198.18.37.0/24. */
  subnet: string;
  /** The bridge's address, e.g. 198.18.37.1: the host's IP on the pod network. */
  gateway: string;
  /** A bin dir holding `peapod-fail`, a plugin answering ADD with CNI error 7. */
  binDir: string;
  /** TOML lines pointing peapod at this network. */
  configToml: string;
  /** Deletes the bridge and the temp files. */
  cleanup(): void;
}

/**
 * Makes a CNI network inside 198.18.0.0/15 (a random /24 per run): a bridge
 * created here with the gateway address (so the bridge plugin runs with
 * isGateway false and never touches the host's ip_forward), host-local IPAM
 * keeping its leases in a temp dir, and portmap with the portMappings
 * capability, bandwidth with the bandwidth capability. With `ipv6Subnet`
 * the pods get a second, IPv6 address (no traffic is sent to it). hairpinMode alone (bridge 1.1.1 refuses it with promiscMode).
 */
export function makeTestCniNetwork(options: { ipv6Subnet?: string } = {}): TestCniNetwork {
  const suffix = randomBytes(3).toString('hex');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cni-'));
  const confDir = path.join(dir, 'net.d');
  fs.mkdirSync(confDir);
  const name = `peapod-test-${suffix}`;
  const bridge = `pp${suffix}`;
  // A /24 no interface on this machine uses yet (other test runs pick theirs at random too).
  const inUse = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  let net = '';
  for (let tries = 0; tries < 100 && (net === '' || inUse.includes(` ${net}.`)); tries++) {
    const third = randomInt(0, 512);
    net = `198.${18 + Math.floor(third / 256)}.${third % 256}`;
  }
  const subnet = `${net}.0/24`;
  const gateway = `${net}.1`;
  execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
  execFileSync('ip', ['link', 'set', bridge, 'up']);
  const conflist = {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet, gateway }], ...(options.ipv6Subnet ? [[{ subnet: options.ipv6Subnet }]] : [])],
          dataDir: path.join(dir, 'ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
    ],
  };
  fs.writeFileSync(path.join(confDir, '10-test.conflist'), JSON.stringify(conflist, null, 2));
  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  fs.writeFileSync(
    path.join(binDir, 'peapod-fail'),
    `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = DEL ] && exit 0\necho '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config","details":"peapod test plugin refuses"}'\nexit 1\n`,
    { mode: 0o755 },
  );
  return {
    confDir,
    name,
    bridge,
    subnet,
    gateway,
    binDir,
    configToml: `[network]\ncni_conf_dir = "${confDir}"\ncni_bin_dirs = ["${binDir}", "/usr/lib/cni"]\n`,
    cleanup() {
      try {
        execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
