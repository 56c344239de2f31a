/**
 * Mapping critest's upstream registries onto one local registry, so images
 * keep their original names in the CRI: a containers-registries.conf(5)
 * version 2 drop-in with one `[[registry]]` per upstream registry whose
 * `location` is `<local host>/<upstream registry>`.
 */

/** The registries critest v1.26.1 pulls from (validation suite and benchmarks). */
export const UPSTREAM_REGISTRIES: readonly string[] = ['registry.k8s.io', 'gcr.io', 'public.ecr.aws'];

/**
 * Where a stand-in for `ref` is pushed: the local registry's repository
 * `<upstream domain>/<path>`, e.g. `registry.k8s.io/e2e-test-images/busybox:1.29-2`
 * becomes repo `registry.k8s.io/e2e-test-images/busybox`, tag `1.29-2`.
 * @param ref a fully qualified reference with a tag (no digest)
 * @throws Error when the reference has no domain among UPSTREAM_REGISTRIES or no tag
 */
export function localRepoFor(ref: string): { repo: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) throw new Error(`${ref}: a digest reference cannot be pushed as a stand-in`);
  const slash = ref.indexOf('/');
  const domain = slash > 0 ? ref.slice(0, slash) : '';
  if (!UPSTREAM_REGISTRIES.includes(domain)) throw new Error(`${ref}: registry ${domain || '(none)'} is not one of ${UPSTREAM_REGISTRIES.join(', ')}`);
  const colon = ref.lastIndexOf(':');
  const hasTag = colon > ref.lastIndexOf('/');
  return { repo: hasTag ? ref.slice(0, colon) : ref, tag: hasTag ? ref.slice(colon + 1) : 'latest' };
}

function tomlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * The text of a registries.conf.d drop-in sending every registry of
 * `registries` to `<localHost>/<registry>` over plain HTTP
 * (`insecure = true`), e.g.
 * ```
 * [[registry]]
 * prefix = "gcr.io"
 * location = "127.0.0.1:5000/gcr.io"
 * insecure = true
 * ```
 * @param localHost `HOST:PORT` of the local registry
 */
export function registriesDropIn(localHost: string, registries: readonly string[] = UPSTREAM_REGISTRIES): string {
  const lines = [
    '# Written by `npm run critest`: critest pulls images by their upstream names;',
    '# these entries send each upstream registry to stand-ins on a local registry.',
  ];
  for (const r of registries) {
    lines.push('', '[[registry]]', `prefix = ${tomlString(r)}`, `location = ${tomlString(`${localHost}/${r}`)}`, 'insecure = true');
  }
  return lines.join('\n') + '\n';
}
