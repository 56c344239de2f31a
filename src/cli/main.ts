#!/usr/bin/env node
/**
 * `peapod`'s entry point: starts the CLI (entry.ts) from its single-file
 * bundle when `npm run build` made one, else from its modules.
 *
 * Why: a command loads 50 to 120 of peapod's modules; resolving, reading and
 * compiling them one by one is most of the CLI's start over a bare Node. The
 * bundle (dist/src/cli/peapod.bundle.js, made by scripts/bundle-cli.ts with
 * esbuild) is one file read, with no module resolution, and its V8 code
 * cache (cli-bundle.ts) spares the parse and compile of what a command runs.
 * Modules are still evaluated only when a command requires them.
 *
 * PEAPOD_CLI_BUNDLE=0 in the environment starts from the modules instead
 * (what the bundle is made of; the same code).
 */
import { startBundle } from './cli-bundle';

// bin/peapod moved NODE_EXTRA_CA_CERTS aside so that Node's start skips it
// (common/extra-ca-certs.ts); the programs this process starts get it back.
const deferredCa = process.env.PEAPOD_EXTRA_CA_CERTS;
if (deferredCa && process.env.NODE_EXTRA_CA_CERTS === undefined) process.env.NODE_EXTRA_CA_CERTS = deferredCa;

if (process.env.PEAPOD_CLI_BUNDLE === '0' || !startBundle()) require('./entry');
