/**
 * CNI runtime configuration ("capability arguments", CNI conventions
 * document): values the runtime passes in `runtimeConfig` to plugins that
 * declare the capability in their `capabilities` map.
 */

/** One port mapping for the portmap plugin. */
export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  /** Lowercase: tcp, udp, sctp. */
  protocol: string;
  hostIP?: string;
}

/** DNS settings for plugins that take the `dns` capability. */
export interface CniDns {
  servers: string[];
  searches: string[];
  options: string[];
}

/** Bandwidth limits in bits per second (bandwidth plugin). */
export interface CniBandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** The capability arguments peapod knows, by capability name. */
export interface CniRuntimeConfig {
  portMappings?: CniPortMapping[];
  dns?: CniDns;
  bandwidth?: CniBandwidth;
}

/** The kubelet's pod annotations for traffic shaping. */
export const INGRESS_BANDWIDTH_ANNOTATION = 'kubernetes.io/ingress-bandwidth';
export const EGRESS_BANDWIDTH_ANNOTATION = 'kubernetes.io/egress-bandwidth';

/** Burst when the pod sets none: no limit to speak of (as the kubelet's CNI code did). */
const UNLIMITED_BURST = 2147483647;

const SUFFIX: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/**
 * Parses a Kubernetes quantity such as `10M` or `1Gi` (here: bits per second).
 * @returns the number, or undefined when it is not a quantity.
 */
export function parseQuantity(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)([kMGTPE]i?|Ki|)$/.exec(text.trim());
  if (!m || SUFFIX[m[2]] === undefined) return undefined;
  return Math.round(parseFloat(m[1]) * SUFFIX[m[2]]);
}

/**
 * The bandwidth capability from the pod's annotations.
 * @returns undefined when neither annotation is set.
 * @throws Error naming the annotation when its value is not a quantity.
 */
export function bandwidthFromAnnotations(annotations: Record<string, string>): CniBandwidth | undefined {
  const out: CniBandwidth = {};
  for (const [key, dir] of [[INGRESS_BANDWIDTH_ANNOTATION, 'ingress'], [EGRESS_BANDWIDTH_ANNOTATION, 'egress']] as const) {
    const v = annotations[key];
    if (v === undefined) continue;
    const rate = parseQuantity(v);
    if (rate === undefined || rate <= 0) throw new Error(`config.annotations["${key}"]: "${v}" is not a positive quantity such as 10M`);
    if (dir === 'ingress') Object.assign(out, { ingressRate: rate, ingressBurst: UNLIMITED_BURST });
    else Object.assign(out, { egressRate: rate, egressBurst: UNLIMITED_BURST });
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The `runtimeConfig` object for one plugin: only the capabilities the plugin
 * declares true in its `capabilities` map and peapod has a value for.
 */
export function runtimeConfigFor(plugin: Record<string, unknown>, rc: CniRuntimeConfig): Record<string, unknown> | undefined {
  const caps = plugin.capabilities;
  if (typeof caps !== 'object' || caps === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rc)) {
    if (value !== undefined && (caps as Record<string, unknown>)[name] === true) out[name] = value;
  }
  return Object.keys(out).length ? out : undefined;
}
