import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The dependency rule of docs/architecture.md, checked on the sources:
 * - the domain (src/common, src/conmon, src/image-service and
 *   src/runtime-service outside their cri/ folders) imports nothing from
 *   src/server/, src/cli/, any cri/ folder, src/generated/ or @grpc;
 * - src/cli/ imports no cri/ folder and nothing of src/server/ (nor @grpc).
 * Type-only imports count: they couple as much.
 */

const REPO = path.resolve(__dirname, '..', '..', '..');
const SRC = path.join(REPO, 'src');

/** Every .ts file under a directory, as paths relative to the repository. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(path.relative(REPO, p));
  }
  return out;
}

/** The module specifiers a source imports or re-exports (static, dynamic, require), comments skipped. */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  const patterns = [/\bimport\s+(?:type\s+)?(?:[\w*{}\s,]+?\s+from\s+)?['"]([^'"]+)['"]/g, /\bexport\s+(?:type\s+)?[\w*{}\s,]*?\s+from\s+['"]([^'"]+)['"]/g, /\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]);
  return out;
}

/** Where a file or a resolved import belongs. */
export function layerOf(repoPath: string): 'domain' | 'cri' | 'server' | 'cli' | 'generated' | 'other' {
  const p = repoPath.split(path.sep).join('/');
  if (!p.startsWith('src/')) return 'other';
  if (p.split('/').includes('cri')) return 'cri';
  if (p.startsWith('src/server/')) return 'server';
  if (p.startsWith('src/cli/')) return 'cli';
  if (p.startsWith('src/generated/')) return 'generated';
  if (/^src\/(common|conmon|image-service|runtime-service)\//.test(p)) return 'domain';
  return 'other';
}

/** What a layer may not import: layers, and packages by prefix. */
const FORBIDDEN: Partial<Record<ReturnType<typeof layerOf>, { layers: string[]; packages: string[] }>> = {
  domain: { layers: ['server', 'cli', 'cri', 'generated'], packages: ['@grpc/'] },
  cli: { layers: ['server', 'cri'], packages: ['@grpc/'] },
};

/**
 * The imports that break the rule in the given files.
 * @param files repository-relative paths with their source text
 */
export function violations(files: { file: string; source: string }[]): string[] {
  const out: string[] = [];
  for (const { file, source } of files) {
    const rule = FORBIDDEN[layerOf(file)];
    if (!rule) continue;
    for (const spec of importsOf(source)) {
      if (spec.startsWith('.')) {
        const target = path.relative(REPO, path.resolve(REPO, path.dirname(file), spec));
        const layer = layerOf(target);
        if (rule.layers.includes(layer)) out.push(`${file} imports ${spec} (${layer})`);
      } else if (rule.packages.some((p) => spec.startsWith(p))) out.push(`${file} imports ${spec}`);
    }
  }
  return out;
}

describe('the dependency rule (docs/architecture.md)', () => {
  const files = sourceFiles(SRC).map((file) => ({ file, source: fs.readFileSync(path.join(REPO, file), 'utf8') }));

  it('finds the domain, the CRI layer and the server in the sources', () => {
    const count = (l: string) => files.filter((f) => layerOf(f.file) === l).length;
    expect(count('domain')).to.be.greaterThan(60);
    expect(count('cri')).to.be.greaterThan(30);
    expect(count('server')).to.be.greaterThan(10);
  });

  it('holds: the domain imports no server, CLI, CRI, generated or gRPC code; the CLI no server or CRI code', () => {
    expect(violations(files)).to.deep.equal([]);
  });

  it('covers src/cli/ whenever it exists', () => {
    const cli = files.filter((f) => layerOf(f.file) === 'cli');
    expect(cli.length > 0).to.equal(fs.existsSync(path.join(SRC, 'cli')));
  });

  it('would catch a violation of each kind (the checker itself)', () => {
    const found = violations([
      { file: 'src/runtime-service/container/x.ts', source: "import { a } from '../../server/rpc';\nimport type { B } from '../cri/context';" },
      { file: 'src/common/y.ts', source: "export { c } from '../generated/api';\nconst g = require('@grpc/grpc-js');" },
      { file: 'src/cli/z.ts', source: "import '../image-service/cri';\n// import { d } from '../server/config';\nimport { e } from '../server/config';" },
      { file: 'src/runtime-service/cri/ok.ts', source: "import { f } from '../../server/rpc';" },
    ]);
    expect(found).to.deep.equal([
      'src/runtime-service/container/x.ts imports ../../server/rpc (server)',
      'src/runtime-service/container/x.ts imports ../cri/context (cri)',
      'src/common/y.ts imports ../generated/api (generated)',
      'src/common/y.ts imports @grpc/grpc-js',
      'src/cli/z.ts imports ../image-service/cri (cri)',
      'src/cli/z.ts imports ../server/config (server)',
    ]);
  });
});
