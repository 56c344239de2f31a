/**
 * `peapod ps`: the CLI's containers, newest first (running ones unless
 * `--all`), with Podman's columns, template fields, JSON and filters;
 * `--external` adds peapod-cri's containers (marked, read-only). It reads
 * the records without loading the container engine, and applies an exit
 * that conmon recorded but no process has yet (a missed exit command) before
 * showing it.
 */
import * as fs from 'node:fs';
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { SandboxRecord } from '../../runtime-service/sandbox/record';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { psJson, psRow, PS_HEADERS, stateOf } from '../containers/view';
import { imageNameOf } from '../containers/metadata';
import { renderListing } from '../output/write';
import { isPod } from '../pods';

/** Flags of `ps`. */
export interface PsOptions {
  all?: boolean;
  external?: boolean;
  filter?: string[];
  format?: string;
  noTrunc?: boolean;
  noheading?: boolean;
  pod?: boolean;
  quiet?: boolean;
}

const FILTER_KEYS = ['id', 'name', 'status', 'label', 'ancestor', 'exited', 'pod'];

/**
 * The filters: same keys match when any does, different keys must all
 * match; `key!=value` negates.
 * @throws CliError (125) for an unknown key or a value without `=`.
 */
export function compilePsFilters(filters: string[], podOf: (rec: ContainerRecord) => SandboxRecord | undefined): (rec: ContainerRecord) => boolean {
  const byKey = new Map<string, ((rec: ContainerRecord) => boolean)[]>();
  for (const f of filters) {
    const m = /^([a-z]+)(!?=)(.*)$/.exec(f);
    if (!m || !FILTER_KEYS.includes(m[1])) throw new CliError(`--filter "${f}": expected KEY=VALUE with KEY one of ${FILTER_KEYS.join(', ')}`, EXIT_ENGINE);
    const [, key, op, value] = m;
    let test: (rec: ContainerRecord) => boolean;
    switch (key) {
      case 'id':
        test = (r) => r.id.startsWith(value);
        break;
      case 'name':
        test = (r) => {
          try {
            return new RegExp(value).test(r.metadata.name);
          } catch {
            return r.metadata.name.includes(value);
          }
        };
        break;
      case 'status':
        if (!['created', 'running', 'exited', 'paused', 'unknown', 'stopped'].includes(value)) throw new CliError(`--filter "${f}": status is one of created, running, exited, paused, unknown`, EXIT_ENGINE);
        test = (r) => stateOf(r) === (value === 'stopped' ? 'exited' : value);
        break;
      case 'label': {
        const i = value.indexOf('=');
        test = i < 0 ? (r) => value in r.labels : (r) => r.labels[value.slice(0, i)] === value.slice(i + 1);
        break;
      }
      case 'ancestor':
        test = (r) => imageNameOf(r) === value || imageNameOf(r).startsWith(`${value}:`) || imageNameOf(r).endsWith(`/${value}`) || imageNameOf(r).includes(`/${value}:`) || r.imageId.replace(/^sha256:/, '').startsWith(value.replace(/^sha256:/, ''));
        break;
      case 'exited':
        test = (r) => r.state === 'exited' && String(r.exitCode) === value;
        break;
      default: {
        test = (r) => {
          const p = podOf(r);
          return !!p && isPod(p) && (p.id.startsWith(value) || p.metadata.name === value);
        };
      }
    }
    const t = test;
    const list = byKey.get(key) ?? [];
    list.push(op === '!=' ? (r) => !t(r) : t);
    byKey.set(key, list);
  }
  return (rec) => [...byKey.values()].every((tests) => tests.some((t) => t(rec)));
}

/** Whether conmon wrote an exit file for a container not yet recorded as exited. */
function exitPending(rec: ContainerRecord, exitsDir: string): boolean {
  return (rec.state === 'created' || rec.state === 'running') && (fs.existsSync(`${exitsDir}/${rec.id}`) || fs.existsSync(`${rec.persistDir}/exit`));
}

/** Runs `ps`. */
export async function run(ctx: CliContext, _args: string[], o: PsOptions): Promise<number> {
  const { containerDirs } = require('../../runtime-service/container/paths') as typeof import('../../runtime-service/container/paths');
  const { SandboxStore } = require('../../runtime-service/sandbox/store') as typeof import('../../runtime-service/sandbox/store');
  const dirs = containerDirs(ctx.config.root, ctx.config.runroot);
  const store = ctx.containerStore();
  let own = store.list();
  // A record whose exit conmon wrote but nobody applied (or the first command since a boot): the engine brings it up to date.
  if (own.some((r) => exitPending(r, dirs.exits)) || !fs.existsSync(`${ctx.config.runroot}/peapod-cli.recovered`)) {
    const { openContainers } = require('../containers/domain') as typeof import('../containers/domain');
    const c = await openContainers(ctx, { recover: false });
    for (const r of own.filter((x) => exitPending(x, dirs.exits))) await c.engine.refresh(r.id).catch(() => undefined);
    own = store.list();
  }
  const all = [...own, ...(o.external ? store.listOf('cri') : [])];
  const sandboxes = new SandboxStore(ctx.stateDb(), ctx.config);
  const sbCache = new Map<string, SandboxRecord | undefined>();
  const sandboxOf = (r: ContainerRecord): SandboxRecord | undefined => {
    if (!sbCache.has(r.sandboxId)) sbCache.set(r.sandboxId, sandboxes.getAny(r.sandboxId));
    return sbCache.get(r.sandboxId);
  };
  const keep = compilePsFilters(o.filter ?? [], sandboxOf);
  const shown = all.filter((r) => (o.all || (o.filter?.length ?? 0) > 0 || r.state === 'running') && keep(r)).reverse();
  if (o.quiet) {
    ctx.io.stdout.write(shown.map((r) => `${o.noTrunc ? r.id : r.id.slice(0, 12)}\n`).join(''));
    return 0;
  }
  const now = Date.now();
  const rows = shown.map((r) => psRow(r, sandboxOf(r), Boolean(o.noTrunc), now));
  const columns = o.pod
    ? '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Pod}}\t{{.PodName}}'
    : '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
  ctx.io.stdout.write(
    renderListing(o.format, {
      rows,
      json: shown.map((r) => psJson(r, sandboxOf(r), now)),
      headers: PS_HEADERS,
      defaultColumns: columns,
      noHeading: o.noheading,
    }),
  );
  return 0;
}
