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
import type { LinuxContainerResources__Output } from '../generated/runtime/v1/LinuxContainerResources';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig';
import type { ServerStreamImpl, UnaryImpl, UnaryImpls } from './rpc';
import { MAX_REFERENCE_LENGTH } from '../image-service/reference';
import { quoteInput } from '../common/bounded-text';
import { invalidArgument } from '../common/errors';
import {
  checkCdiDevicesBounds,
  checkContainerSecurityBounds,
  checkIdListBounds,
  checkLinuxResourcesBounds,
  checkMountExtrasBounds,
  checkOptionsBounds,
  checkSandboxSecurityBounds,
  checkWindowsSecurityBounds,
} from './nested-request-bounds';

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
  checkBytes(`${at}.hostname`, config.hostname, INPUT_LIMITS.hostname);
  checkBytes(`${at}.log_directory`, config.log_directory, INPUT_LIMITS.path);
  checkLabels(`${at}.labels`, config.labels);
  checkAnnotations(`${at}.annotations`, config.annotations);
  checkBytes(`${at}.linux.cgroup_parent`, config.linux?.cgroup_parent ?? '', INPUT_LIMITS.path);
  const sysctls = config.linux?.sysctls ?? {};
  checkCount(`${at}.linux.sysctls`, Object.keys(sysctls), INPUT_LIMITS.mountCount);
  for (const [k, v] of Object.entries(sysctls)) {
    checkBytes(`${at}.linux.sysctls key`, k, INPUT_LIMITS.string);
    checkBytes(`${at}.linux.sysctls[${quoteInput(k)}]`, v, INPUT_LIMITS.string);
  }
  const dns = config.dns_config;
  if (dns) {
    for (const f of ['servers', 'searches', 'options'] as const) {
      checkCount(`${at}.dns_config.${f}`, dns[f], INPUT_LIMITS.mountCount);
      dns[f].forEach((s, i) => checkBytes(`${at}.dns_config.${f}[${i}]`, s, INPUT_LIMITS.name));
    }
  }
  checkCount(`${at}.port_mappings`, config.port_mappings, INPUT_LIMITS.argumentCount);
  config.port_mappings.forEach((pm, i) => checkBytes(`${at}.port_mappings[${i}].host_ip`, pm.host_ip, INPUT_LIMITS.address));
  // Security context, overhead and resources, Windows strings: nested-request-bounds.ts.
  checkSandboxSecurityBounds(config.linux?.security_context, `${at}.linux.security_context`);
  checkLinuxResourcesBounds(config.linux?.overhead, `${at}.linux.overhead`);
  checkLinuxResourcesBounds(config.linux?.resources, `${at}.linux.resources`);
  checkWindowsSecurityBounds(config.windows?.security_context, `${at}.windows.security_context`);
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
    checkMountExtrasBounds(m, `${at}.mounts[${i}]`);
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
  // Resources, security context, Windows strings, CDI devices: nested-request-bounds.ts.
  checkLinuxResourcesBounds(config.linux?.resources, `${at}.linux.resources`);
  checkContainerSecurityBounds(config.linux?.security_context, `${at}.linux.security_context`);
  checkWindowsSecurityBounds(config.windows?.security_context, `${at}.windows.security_context`);
  checkCdiDevicesBounds(config.CDI_devices, `${at}.CDI_devices`);
}

/** An AuthConfig's fields and their bounds. */
const AUTH_FIELDS = { username: INPUT_LIMITS.name, password: INPUT_LIMITS.credential, auth: INPUT_LIMITS.credential, server_address: INPUT_LIMITS.string, identity_token: INPUT_LIMITS.credential, registry_token: INPUT_LIMITS.credential } as const;

/**
 * Checks a PullImage AuthConfig's strings (see AUTH_FIELDS).
 * @param auth the decoded AuthConfig (absent passes)
 * @param at its field path, `auth`
 * @throws InvalidArgumentError naming the field (the value is never quoted: it is a secret)
 */
export function checkAuthBounds(auth: unknown, at: string): void {
  if (!isObj(auth)) return;
  for (const [k, max] of Object.entries(AUTH_FIELDS)) {
    const v = auth[k];
    if (typeof v === 'string' && Buffer.byteLength(v) > max) throw invalidArgument(`${at}.${k}: ${Buffer.byteLength(v)} bytes, longer than ${max} bytes`);
  }
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
  if (typeof request.runtime_handler === 'string') checkBytes('runtime_handler', request.runtime_handler, INPUT_LIMITS.runtimeHandler);
  if (method.endsWith('/PullImage')) {
    if (isObj(request.image)) checkAnnotations('image.annotations', request.image.annotations as Record<string, string> | undefined);
    checkAuthBounds(request.auth, 'auth');
    checkPodSandboxConfigBounds(request.sandbox_config as PodSandboxConfig__Output | null, 'sandbox_config');
  }
  if (method.endsWith('/UpdateRuntimeConfig')) {
    const net = isObj(request.runtime_config) && isObj(request.runtime_config.network_config) ? request.runtime_config.network_config : undefined;
    if (net && typeof net.pod_cidr === 'string') checkBytes('runtime_config.network_config.pod_cidr', net.pod_cidr, INPUT_LIMITS.address);
  }
  if (method.endsWith('/UpdateContainerResources')) {
    checkLinuxResourcesBounds(request.linux as LinuxContainerResources__Output | null, 'linux');
    checkAnnotations('annotations', request.annotations as Record<string, string> | undefined);
  }
  if (method.endsWith('/UpdatePodSandboxResources')) {
    checkLinuxResourcesBounds(request.overhead as LinuxContainerResources__Output | null, 'overhead');
    checkLinuxResourcesBounds(request.resources as LinuxContainerResources__Output | null, 'resources');
  }
  if (method.endsWith('/PortForward') && Array.isArray(request.port)) checkCount('port', request.port, INPUT_LIMITS.portCount);
  if (method.endsWith('/CheckpointContainer') && typeof request.location === 'string') checkBytes('location', request.location, INPUT_LIMITS.path);
  if (method.endsWith('/CheckpointPod')) {
    if (typeof request.output_path === 'string') checkBytes('output_path', request.output_path, INPUT_LIMITS.path);
    checkIdListBounds(request.container_ids as string[] | undefined, 'container_ids');
    checkOptionsBounds(request.options as Record<string, string> | undefined, 'options');
  }
  if (method.endsWith('/RestorePod')) {
    if (typeof request.checkpoint_path === 'string') checkBytes('checkpoint_path', request.checkpoint_path, INPUT_LIMITS.path);
    checkPodSandboxConfigBounds(request.config as PodSandboxConfig__Output | null, 'config');
    checkOptionsBounds(request.options as Record<string, string> | undefined, 'options');
    const configs = Array.isArray(request.container_configs) ? (request.container_configs as ContainerConfig__Output[]) : [];
    checkCount('container_configs', configs, INPUT_LIMITS.mountCount);
    configs.forEach((c, i) => checkContainerConfigBounds(c, `container_configs[${i}]`));
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
