#!/usr/bin/env node
// First: the young generation's bound holds only for what is allocated after it (young-generation.ts).
import './young-generation';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE } from '../common/config';
import { createLogger } from '../common/logger';
import { loadCriConfig } from './config';
import { CriServer } from './server';

/** peapod's version, read from package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

interface Flags {
  config?: string;
  configDir?: string;
  socket?: string;
  root?: string;
  runroot?: string;
  logLevel?: string;
}

async function main(argv: string[]): Promise<number> {
  const version = packageVersion();
  const program = new Command('peapod-cri')
    .description('Serve the Kubernetes CRI v1 (RuntimeService and ImageService) on a unix socket.')
    .version(version, '-v, --version', 'print the version and exit')
    .option('--config <file>', `main configuration file (default ${DEFAULT_CONFIG_FILE})`)
    .option('--config-dir <dir>', `drop-in directory of *.conf files read in lexical order (default ${DEFAULT_CONFIG_DIR})`)
    .option('--socket <path>', 'unix socket to listen on (config key: socket)')
    .option('--root <dir>', 'directory of persistent state (config key: root)')
    .option('--runroot <dir>', 'directory of state that lives until reboot (config key: runroot)')
    .option('--log-level <level>', 'trace, debug, info, warn, error or fatal (config key: log_level)')
    .showHelpAfterError();
  program.parse(argv);
  const flags = program.opts<Flags>();

  let config;
  try {
    config = loadCriConfig({
      configFile: flags.config,
      configDir: flags.configDir,
      overrides: { socket: flags.socket, root: flags.root, runroot: flags.runroot, log_level: flags.logLevel },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`peapod-cri: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const log = createLogger(config.log_level, 'peapod-cri');
  let server: CriServer;
  try {
    // The domain makes root and runroot and sets their modes (runtime-service/state-dirs.ts).
    server = new CriServer(config, log, version);
    await server.start();
  } catch (err) {
    // Expected start failures (socket in use, unwritable paths) get one
    // clear line on stderr; the stack goes to the JSON log.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`peapod-cri: cannot start: ${message}\n`);
    log.fatal({ err }, 'cannot start');
    return 1;
  }

  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'signal received');
      server.stop(config.shutdown_timeout).then(() => {
        log.info('stopped');
        resolve(0);
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`peapod-cri: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
