/**
 * Summarizes a V8 CPU profile (`node --cpu-prof` output, .cpuprofile JSON)
 * of peapod-cri: where the process spent its time, by bucket (idle, GC,
 * peapod's own code, each npm package, node internals) and by function
 * (self time), and peapod functions by inclusive time.
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [TOP]
 */
import * as fs from 'node:fs';

/** The parts of a .cpuprofile this reads (Chrome DevTools protocol Profiler.Profile). */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The bucket of a call frame: "(idle)", "(gc)", "peapod", "npm:<pkg>", "node" or "(program)". */
export function bucketOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(program)') return '(program)';
    return 'native';
  }
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return `npm:${m[1]}`;
  if (url.startsWith('node:')) return 'node';
  if (url.includes('/dist/src/')) return 'peapod';
  return 'other';
}

/** Self time per node id in microseconds. */
function selfTimes(p: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  return self;
}

function main(): void {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 25);
  if (!file) throw new Error('usage: profile-summary FILE.cpuprofile [TOP]');
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const self = selfTimes(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const wall = (p.endTime - p.startTime) / 1000;
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const b = bucketOf(n.callFrame.url, n.callFrame.functionName);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  // Inclusive time of peapod functions: self time of every descendant.
  const inclusive = new Map<number, number>();
  const total = (id: number): number => {
    const cached = inclusive.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id)!;
    const t = (self.get(id) ?? 0) + (n.children ?? []).reduce((a, c) => a + total(c), 0);
    inclusive.set(id, t);
    return t;
  };
  const peapodIncl = new Map<string, number>();
  for (const n of p.nodes) {
    if (bucketOf(n.callFrame.url, n.callFrame.functionName) !== 'peapod') continue;
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/dist\//, '')}:${n.callFrame.lineNumber + 1}`;
    peapodIncl.set(key, (peapodIncl.get(key) ?? 0) + total(n.id));
  }
  const ms = (us: number): string => (us / 1000).toFixed(0).padStart(8);
  const busy = [...buckets].filter(([b]) => b !== '(idle)').reduce((a, [, v]) => a + v, 0);
  process.stdout.write(`profile: ${wall.toFixed(0)} ms wall, ${(busy / 1000).toFixed(0)} ms busy (${((busy / 1000 / wall) * 100).toFixed(1)}%)\n\nby bucket (self time, ms):\n`);
  for (const [b, us] of [...buckets].sort((a, b2) => b2[1] - a[1])) process.stdout.write(`${ms(us)}  ${b}\n`);
  process.stdout.write(`\ntop ${top} functions by self time (ms):\n`);
  for (const [k, us] of [...fns].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(us)}  ${k}\n`);
  process.stdout.write(`\ntop ${top} peapod functions by inclusive time (ms; recursive frames count more than once):\n`);
  for (const [k, us] of [...peapodIncl].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(us)}  ${k}\n`);
}

if (require.main === module) main();
