/**
 * Bundles the `peapod` CLI into one file at `npm run build` (after tsc):
 * dist/src/cli/entry.js and everything it requires (peapod's modules and the
 * npm packages; better-sqlite3's native addon is required from its place in
 * node_modules) into
 * dist/src/cli/peapod.bundle.js, which dist/src/cli/main.js runs with a V8
 * code cache (src/cli/cli-bundle.ts). Then it runs `peapod --version` and `version` so
 * the first code caches exist before the first user command.
 *
 * esbuild keeps each CommonJS module in its own lazily evaluated wrapper, so
 * a command still evaluates only the modules it requires. Each module's
 * `__dirname` is rewritten to its own directory relative to the bundle's, so
 * the paths modules build from it (package.json, the spawner binary, the
 * layer worker script, the CLI's own entry for conmon's exit command) stay
 * those of the unbundled files, wherever the checkout is moved.
 *
 * Usage: node dist/scripts/bundle-cli.js (from anywhere; paths are the
 * package's).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, Plugin } from 'esbuild';

const root = path.resolve(__dirname, '..', '..');
const cliDir = path.join(root, 'dist', 'src', 'cli');
const outfile = path.join(cliDir, 'peapod.bundle.js');

/** Rewrites `__dirname` in each bundled file to its own directory, as a path relative to the bundle's. */
const ownDirname: Plugin = {
  name: 'own-dirname',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const text = fs.readFileSync(args.path, 'utf8');
      if (!/\b__dirname\b/.test(text)) return undefined;
      const rel = path.relative(cliDir, path.dirname(args.path));
      return { contents: text.replace(/\b__dirname\b/g, `require("node:path").join(__dirname, ${JSON.stringify(rel)})`), loader: 'js' };
    });
  },
};

/** better-sqlite3's native addon, where its install builds it. */
const SQLITE_ADDON = path.join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');

/**
 * better-sqlite3 finds its addon through the `bindings` package, which
 * parses a stack trace and tries a dozen paths: in the bundle `bindings` is
 * a function that requires the addon where it was at build time (as a path
 * relative to the bundle, so the checkout can move).
 */
const sqliteAddon: Plugin = {
  name: 'sqlite-addon',
  setup(b) {
    b.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'sqlite-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'sqlite-addon' }, () => ({
      contents: `const path = require("node:path");\nconst file = path.join(__dirname, ${JSON.stringify(path.relative(cliDir, SQLITE_ADDON))});\nmodule.exports = (name) => { if (name !== "better_sqlite3.node") throw new Error("bindings: only better_sqlite3.node is bundled, not " + name); return require(file); };\n`,
      loader: 'js',
    }));
  },
};

async function main(): Promise<void> {
  for (const f of [outfile, path.join(cliDir, 'peapod.bundle.cache')]) fs.rmSync(f, { recursive: true, force: true });
  const result = await build({
    entryPoints: [path.join(cliDir, 'entry.js')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Without its addon where expected (another build layout), better-sqlite3
    // is left to Node's resolution and `bindings` at run time.
    external: fs.existsSync(SQLITE_ADDON) ? [] : ['better-sqlite3'],
    plugins: fs.existsSync(SQLITE_ADDON) ? [ownDirname, sqliteAddon] : [ownDirname],
    logLevel: 'warning',
    legalComments: 'none',
    // No comments or indentation: a smaller file to read, and pure ASCII
    // (esbuild escapes every other character), which the loader reads as
    // latin1 into a one-byte string, several times faster than UTF-8.
    minifyWhitespace: true,
    charset: 'ascii',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs).length;
  const text = fs.readFileSync(outfile);
  const bytes = text.length;
  const wide = text.findIndex((b) => b > 0x7f);
  if (wide >= 0) throw new Error(`${outfile}: a byte over 0x7f at offset ${wide}: the loader reads the bundle as ASCII`);
  // The code cache of commands that need no store (others make theirs at their first run).
  for (const argv of [['--version'], ['version']]) execFileSync(process.execPath, [path.join(cliDir, 'main.js'), ...argv], { stdio: 'ignore', timeout: 60_000 });
  process.stdout.write(`bundle-cli: ${path.relative(root, outfile)}: ${inputs} files, ${(bytes / 1e6).toFixed(2)} MB\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bundle-cli: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
