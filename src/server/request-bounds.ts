/**
 * Size and count bounds on CRI requests, checked before any work (issue 17;
 * the limits and their reasons: src/common/input-limits.ts and
 * docs/security.md "Limits"). `withRequestBounds` puts the checks in front of
 * every unary implementation of a service, so no RPC can forget them: IDs and
 * filters of every request, and the configs of RunPodSandbox,
 * CreateContainer and ExecSync. An image reference is bounded where it is
 * parsed (src/image-service/reference.ts) and, for lookups that never parse
 * it (an image ID), here.
 */
import type * as grpc from '@grpc/grpc-js';
import { checkAnnotations, checkArguments, checkBytes, checkCount, checkLabels, INPUT_LIMITS } from '../common/input-limits';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig';
import type { ServerStreamImpl, UnaryImpl, UnaryImpls } from './rpc';
import { MAX_REFERENCE_LENGTH } from '../image-service/reference';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Checks a PodSandboxConfig's metadata, hostname, log directory, labels,
 * annotations, cgroup parent and DNS config.
 * @param config the decoded config (null passes: the RPC says it is required)
 * @param at its field path, e.g. `config` or `sandbox_config`
 * @throws InvalidArgumentError naming the field
 */
export function checkPodSandboxConfigBounds(config: PodSandboxConfig__Output | null | undefined, at: string): void {
  if (!config) return;
  const m = config.metadata;
  if (m) {
    checkBytes(`${at}.metadata.name`, m.name, INPUT_LIMITS.name);
    checkBytes(`${at}.metadata.namespace`, m.namespace, INPUT_LIMITS.name);
    checkBytes(`${at}.metadata.uid`, m.uid, INPUT_LIMITS.uid);
  }
  checkBytes(`${at}.hostname`, config.hostname, INPUT_LIMITS.string);
  checkBytes(`${at}.log_directory`, config.log_directory, INPUT_LIMITS.path);
  checkLabels(`${at}.labels`, config.labels);
  checkAnnotations(`${at}.annotations`, config.annotations);
  checkBytes(`${at}.linux.cgroup_parent`, config.linux?.cgroup_parent ?? '', INPUT_LIMITS.path);
  const sysctls = config.linux?.sysctls ?? {};
  checkCount(`${at}.linux.sysctls`, Object.keys(sysctls), INPUT_LIMITS.mountCount);
  for (const [k, v] of Object.entries(sysctls)) {
    checkBytes(`${at}.linux.sysctls key`, k, INPUT_LIMITS.string);
    checkBytes(`${at}.linux.sysctls[${JSON.stringify(k)}]`, v, INPUT_LIMITS.string);
  }
  const dns = config.dns_config;
  if (dns) {
    for (const f of ['servers', 'searches', 'options'] as const) {
      checkCount(`${at}.dns_config.${f}`, dns[f], INPUT_LIMITS.mountCount);
      dns[f].forEach((s, i) => checkBytes(`${at}.dns_config.${f}[${i}]`, s, INPUT_LIMITS.name));
    }
  }
  checkCount(`${at}.port_mappings`, config.port_mappings, INPUT_LIMITS.argumentCount);
}

/**
 * Checks a ContainerConfig's metadata, image, command, args, env, working
 * directory, mounts, devices, labels, annotations and log path.
 * @param config the decoded config (null passes: the RPC says it is required)
 * @param at its field path, e.g. `config`
 * @throws InvalidArgumentError naming the field
 */
export function checkContainerConfigBounds(config: ContainerConfig__Output | null | undefined, at: string): void {
  if (!config) return;
  checkBytes(`${at}.metadata.name`, config.metadata?.name ?? '', INPUT_LIMITS.name);
  checkBytes(`${at}.image.image`, config.image?.image ?? '', MAX_REFERENCE_LENGTH);
  checkBytes(`${at}.image.user_specified_image`, config.image?.user_specified_image ?? '', MAX_REFERENCE_LENGTH);
  checkAnnotations(`${at}.image.annotations`, config.image?.annotations);
  checkCount(`${at}.envs`, config.envs, INPUT_LIMITS.argumentCount);
  const env = config.envs.map((kv) => `${kv.key}=${typeof kv.value === 'string' ? kv.value : Buffer.from(kv.value as Uint8Array).toString('utf8')}`);
  checkArguments({ [`${at}.command`]: config.command, [`${at}.args`]: config.args, [`${at}.envs`]: env });
  checkBytes(`${at}.working_dir`, config.working_dir, INPUT_LIMITS.path);
  checkCount(`${at}.mounts`, config.mounts, INPUT_LIMITS.mountCount);
  config.mounts.forEach((m, i) => {
    checkBytes(`${at}.mounts[${i}].container_path`, m.container_path, INPUT_LIMITS.path);
    checkBytes(`${at}.mounts[${i}].host_path`, m.host_path, INPUT_LIMITS.path);
  });
  checkCount(`${at}.devices`, config.devices, INPUT_LIMITS.mountCount);
  config.devices.forEach((d, i) => {
    checkBytes(`${at}.devices[${i}].container_path`, d.container_path, INPUT_LIMITS.path);
    checkBytes(`${at}.devices[${i}].host_path`, d.host_path, INPUT_LIMITS.path);
    checkBytes(`${at}.devices[${i}].permissions`, d.permissions, INPUT_LIMITS.name);
  });
  checkLabels(`${at}.labels`, config.labels);
  checkAnnotations(`${at}.annotations`, config.annotations);
  checkBytes(`${at}.log_path`, config.log_path, INPUT_LIMITS.path);
}

/** ID-bearing fields of CRI requests and filters. */
const ID_FIELDS = new Set(['container_id', 'pod_sandbox_id', 'id', 'target_id']);

/**
 * Checks what every CRI request may carry: IDs (`container_id`,
 * `pod_sandbox_id`, a filter's `id`), a filter's `label_selector`, an
 * `image.image` reference, ExecSync's `cmd`, and the configs of
 * RunPodSandbox (`config`) and CreateContainer (`config`, `sandbox_config`).
 * @param request the decoded request
 * @throws InvalidArgumentError naming the field
 */
export function checkRequestBounds(method: string, request: unknown): void {
  if (!isObj(request)) return;
  for (const [k, v] of Object.entries(request)) {
    if (typeof v === 'string' && ID_FIELDS.has(k)) checkBytes(k, v, INPUT_LIMITS.id);
    else if (k === 'cmd' && Array.isArray(v)) checkArguments({ cmd: v as string[] });
    else if (k === 'filter' && isObj(v)) {
      for (const [fk, fv] of Object.entries(v)) {
        if (typeof fv === 'string' && ID_FIELDS.has(fk)) checkBytes(`filter.${fk}`, fv, INPUT_LIMITS.id);
        if (fk === 'label_selector' && isObj(fv)) checkLabels('filter.label_selector', fv as Record<string, string>);
        if (fk === 'image' && isObj(fv) && typeof fv.image === 'string') checkBytes('filter.image.image', fv.image, MAX_REFERENCE_LENGTH);
      }
    } else if (k === 'image' && isObj(v) && typeof v.image === 'string') checkBytes('image.image', v.image, MAX_REFERENCE_LENGTH);
  }
  if (method.endsWith('/RunPodSandbox')) checkPodSandboxConfigBounds(request.config as PodSandboxConfig__Output | null, 'config');
  if (method.endsWith('/CreateContainer')) {
    checkContainerConfigBounds(request.config as ContainerConfig__Output | null, 'config');
    checkPodSandboxConfigBounds(request.sandbox_config as PodSandboxConfig__Output | null, 'sandbox_config');
  }
}

/**
 * The same implementations with `checkRequestBounds` before each.
 * @param impls a service's unary implementations (see server/rpc.ts)
 */
export function withRequestBounds<D extends grpc.ServiceDefinition>(impls: UnaryImpls<D>): UnaryImpls<D> {
  const out: Record<string, UnaryImpl<unknown, unknown>> = {};
  for (const [name, impl] of Object.entries(impls as Record<string, UnaryImpl<unknown, unknown> | undefined>)) {
    if (!impl) continue;
    out[name] = async (request, ctx) => {
      checkRequestBounds(ctx.method, request);
      return impl(request, ctx);
    };
  }
  return out as UnaryImpls<D>;
}

/**
 * withRequestBounds for a service's server-streaming implementations (the
 * Stream* lists' filters, GetContainerEvents): the same checks before the
 * first response.
 */
export function withStreamRequestBounds<S extends object>(impls: S): S {
  const out: Record<string, ServerStreamImpl<unknown, unknown>> = {};
  for (const [name, impl] of Object.entries(impls as Record<string, ServerStreamImpl<unknown, unknown> | undefined>)) {
    if (!impl) continue;
    out[name] = async (request, sink, ctx) => {
      checkRequestBounds(ctx.method, request);
      return impl(request, sink, ctx);
    };
  }
  return out as S;
}
