/**
 * The stand-ins for every image critest v1.26.1 pulls, built offline with the
 * project's image builder. Each matches what critest's specs check of the
 * real image (see the critest image report in cri-tools v1.26.1:
 * pkg/validate/consts.go, image.go, security_context_linux.go,
 * multi_container_linux.go, networking.go, streaming*.go, pkg/benchmark/image.go):
 * its config (User, Entrypoint/Cmd, Env), its files and its programs.
 */
import * as fs from 'node:fs';
import {
  BuiltImage,
  compress,
  Descriptor,
  ImageConfigSpec,
  layerTar,
  LayerEntry,
  MEDIA_OCI_CONFIG,
  MEDIA_OCI_LAYER_GZIP,
  MEDIA_OCI_MANIFEST,
  pushImage,
  sha256,
} from '../../test/fixtures/image-builder';
import { BusyboxSource } from './busybox';
import { Programs } from './programs';
import { localRepoFor } from './registries';

/** Go's name for the host's architecture (`runtime.GOARCH`), which critest puts in hostnet-nginx's name. */
export function goArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[nodeArch] ?? nodeArch;
}

/** critest's default test container image (pkg/framework/util.go). */
export const BUSYBOX_REF = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
/** Web server of the networking, streaming and namespace specs. */
export const NGINX_REF = 'registry.k8s.io/e2e-test-images/nginx:1.14-2';
/** NoNewPrivs specs. */
export const NONEWPRIVS_REF = 'registry.k8s.io/e2e-test-images/nonewprivs:1.3';
/** Multiple Containers specs. */
export const HTTPD_REF = 'registry.k8s.io/e2e-test-images/httpd:2.4.39-4';
/** Port-forward in host network; `<arch>` is Go's GOARCH. */
export function hostnetNginxRef(arch = goArch()): string {
  return `gcr.io/k8s-staging-cri-tools/hostnet-nginx-${arch}:latest`;
}
const STAGING = 'gcr.io/k8s-staging-cri-tools';
/** The image-manager specs' images that are all different images (each gets its own marker file). */
export const DISTINCT_TEST_IMAGES: readonly string[] = [
  `${STAGING}/test-image-tag:test`,
  `${STAGING}/test-image-latest:latest`,
  `${STAGING}/test-image-tag:all`,
  `${STAGING}/test-image-1:latest`,
  `${STAGING}/test-image-2:latest`,
  `${STAGING}/test-image-3:latest`,
];
/** One image under three tags (listImage "exactly 3 repoTags"). */
export const SAME_IMAGE_TAGS: readonly string[] = [`${STAGING}/test-image-tags:1`, `${STAGING}/test-image-tags:2`, `${STAGING}/test-image-tags:3`];
/** The image-user images and their USER (image.go "should not have Uid|Username empty"). */
export const USER_IMAGES: Readonly<Record<string, string>> = {
  [`${STAGING}/test-image-user-uid:latest`]: '1002',
  [`${STAGING}/test-image-user-username:latest`]: 'www-data',
  [`${STAGING}/test-image-user-uid-group:latest`]: '1003:1004',
  [`${STAGING}/test-image-user-username-group:latest`]: 'www-data:1004',
};
/** SupplementalGroups with a group defined in the image: user 1000 in group 50000. */
export const PREDEFINED_GROUP_REF = `${STAGING}/test-image-predefined-group:latest`;
/** pkg/benchmark/image.go's listing images on amd64 (the other architectures use the last three). */
export const BENCHMARK_IMAGES: readonly string[] = [
  'public.ecr.aws/docker/library/busybox:1.35.0-glibc',
  'public.ecr.aws/docker/library/busybox:1-uclibc',
  'public.ecr.aws/docker/library/busybox:1',
  'public.ecr.aws/docker/library/busybox:1-glibc',
  'public.ecr.aws/docker/library/busybox:1-musl',
];

/** One stand-in image and every name it is pushed under. */
export interface Fixture {
  /** Upstream references (with tag) it stands in for. */
  refs: string[];
  /** What it is for, one phrase. */
  purpose: string;
  image: BuiltImage;
}

/** What the fixture set is built from. */
export interface FixtureInputs {
  busybox: BusyboxSource;
  programs: Programs;
  /** Go architecture name for hostnet-nginx (default the host's). */
  arch?: string;
  /** Also build the benchmark images. */
  benchmark?: boolean;
  /** The pod infra image reference to stand in for (containerd's `sandbox_image` in the bench), if any. */
  pauseRef?: string;
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'bin:x:2:2:bin:/bin:/bin/false',
  'sys:x:3:3:sys:/dev:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
];
const GROUP = ['root:x:0:', 'daemon:x:1:', 'bin:x:2:', 'sys:x:3:', 'www-data:x:33:', 'nogroup:x:65534:'];

/** /etc/passwd, /etc/group (with optional extra lines) and an nsswitch.conf for a glibc busybox. */
function etcFiles(extraPasswd: string[] = [], extraGroup: string[] = []): LayerEntry[] {
  return [
    { type: 'file', path: 'etc/passwd', content: [...PASSWD, ...extraPasswd].join('\n') + '\n' },
    { type: 'file', path: 'etc/group', content: [...GROUP, ...extraGroup].join('\n') + '\n' },
    { type: 'file', path: 'etc/nsswitch.conf', content: 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' },
  ];
}

/**
 * The rootfs of the busybox stand-in: busybox with one /bin/<applet> hard
 * link per applet (as in the real image: a masked path such as /bin/ls must
 * be its own file, a symlink would make runc mask /bin/busybox itself), its
 * shared libraries at the paths the loader looks them up, /bin/pgrep and /bin/ipcs (missing from Debian's busybox, present in the
 * real image), the usual empty directories, and /etc files with root,
 * www-data (33) and nobody (65534).
 */
export function busyboxRootfs(bb: BusyboxSource, programs: Programs, etc: LayerEntry[] = etcFiles()): LayerEntry[] {
  const files: LayerEntry[] = [
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', content: fs.readFileSync(bb.binary), mode: 0o755 },
    // Each link's header carries busybox's mode, as tar writes it: containerd applies a hard link's mode to the shared inode.
    ...bb.applets.filter((a) => a !== 'pgrep' && a !== 'ipcs').map((a): LayerEntry => ({ type: 'hardlink', path: `bin/${a}`, target: 'bin/busybox', mode: 0o755 })),
    { type: 'file', path: 'bin/pgrep', content: fs.readFileSync(programs.pgrep), mode: 0o755 },
    { type: 'file', path: 'bin/ipcs', content: fs.readFileSync(programs.ipcs), mode: 0o755 },
  ];
  for (const lib of bb.libraries) files.push({ type: 'file', path: lib, content: fs.readFileSync(fs.realpathSync(lib)), mode: 0o755 });
  files.push(
    { type: 'dir', path: 'dev' },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'etc' },
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'home' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'var/run' },
    { type: 'dir', path: 'var/www' },
    { type: 'dir', path: 'usr/local/bin' },
    { type: 'dir', path: 'usr/sbin' },
    ...etc,
  );
  return files;
}

const DEFAULT_CONFIG: ImageConfigSpec = { Cmd: ['sh'] };

/** A packed layer: its gzip blob and diffID. */
interface PackedLayer {
  blob: Buffer;
  digest: string;
  diffId: string;
}

/** Packs entries into a gzip layer. */
async function packLayer(files: LayerEntry[]): Promise<PackedLayer> {
  const raw = await layerTar(files);
  const blob = compress(raw, 'gzip');
  return { blob, digest: sha256(blob), diffId: sha256(raw) };
}

/**
 * An OCI image (image-spec manifest.md, config.md) from packed layers: the
 * same shape test/fixtures/image-builder.ts buildImage makes, but reusing
 * layers already packed (the busybox layer is ~2.5 MB and shared by every
 * stand-in, so packing it once saves most of the build time).
 */
function assembleImage(layers: PackedLayer[], config: ImageConfigSpec): BuiltImage {
  const blobs = new Map<string, Buffer>();
  const descriptors: Descriptor[] = layers.map((l) => {
    blobs.set(l.digest, l.blob);
    return { mediaType: MEDIA_OCI_LAYER_GZIP, digest: l.digest, size: l.blob.length };
  });
  const diffIds = layers.map((l) => l.diffId);
  const configBlob = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: goArch(),
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...config },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'peapod critest stand-in' })),
    }),
  );
  const configDigest = sha256(configBlob);
  blobs.set(configDigest, configBlob);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_OCI_MANIFEST,
      config: { mediaType: MEDIA_OCI_CONFIG, digest: configDigest, size: configBlob.length },
      layers: descriptors,
    }),
  );
  return { manifest, manifestDigest: sha256(manifest), manifestMediaType: MEDIA_OCI_MANIFEST, config: configBlob, configDigest, layers: descriptors, diffIds, blobs };
}

/** Builds images on one shared busybox layer (packed on first use). */
class Builder {
  private base?: Promise<PackedLayer>;
  constructor(private readonly inputs: FixtureInputs) {}

  /** busybox rootfs (shared layer, or its own layer when `etc` replaces the /etc files), plus `extra` entries as a second layer. */
  async onBusybox(extra: LayerEntry[] | undefined, config: ImageConfigSpec, etc?: LayerEntry[]): Promise<BuiltImage> {
    let base: PackedLayer;
    if (etc) base = await packLayer(busyboxRootfs(this.inputs.busybox, this.inputs.programs, etc));
    else base = await (this.base ??= packLayer(busyboxRootfs(this.inputs.busybox, this.inputs.programs)));
    const layers = [base];
    if (extra) layers.push(await packLayer(extra));
    return assembleImage(layers, config);
  }

  /** One layer of `files` only. */
  async scratch(files: LayerEntry[], config: ImageConfigSpec): Promise<BuiltImage> {
    return assembleImage([await packLayer(files)], config);
  }
}

/** A busybox image plus a marker file `/<marker>`, so that each marker gives a distinct image ID (cri-tools images/image-test). */
function markerImage(b: Builder, marker: string): Promise<BuiltImage> {
  return b.onBusybox([{ type: 'file', path: marker, content: `${marker}\n` }], DEFAULT_CONFIG);
}

/** The marker file name for a reference: the last path component and the tag (e.g. `test-image-tag-all`). */
function markerFor(ref: string): string {
  const { repo, tag } = localRepoFor(ref);
  return `${repo.split('/').pop()}-${tag}`;
}

/**
 * Builds every stand-in. Validation suite: busybox, nginx, nonewprivs, httpd,
 * hostnet-nginx, the image-manager test images (6 distinct, 1 under 3 tags),
 * the 4 image-user images, the predefined-group image; plus the pause image
 * when `pauseRef` is given and the 5 benchmark busybox images with `benchmark`.
 */
export async function buildFixtures(inputs: FixtureInputs): Promise<Fixture[]> {
  const p = inputs.programs;
  const b = new Builder(inputs);
  const out: Fixture[] = [];
  const add = async (refs: string[], purpose: string, image: Promise<BuiltImage>): Promise<void> => {
    out.push({ refs, purpose, image: await image });
  };
  await add([BUSYBOX_REF], 'default test container (busybox applets, pgrep, ipcs, nobody)', b.onBusybox(undefined, DEFAULT_CONFIG));
  const nginxFiles: LayerEntry[] = [{ type: 'file', path: 'usr/sbin/nginx', content: fs.readFileSync(p.nginx), mode: 0o755 }];
  const nginxConfig: ImageConfigSpec = { Cmd: ['nginx', '-g', 'daemon off;'], ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGTERM' };
  await add([NGINX_REF], 'web server: nginx master process on :80, /var/run/nginx.pid', b.onBusybox(nginxFiles, nginxConfig));
  await add(
    [hostnetNginxRef(inputs.arch)],
    'web server for host-network port-forward: nginx on :12003',
    b.onBusybox(nginxFiles, {
      ...nginxConfig,
      ExposedPorts: { '12003/tcp': {} },
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'PEAPOD_HTTP_PORT=12003'],
    }),
  );
  await add(
    [NONEWPRIVS_REF],
    'setuid-root nnp printing "Effective uid: N"',
    b.onBusybox([{ type: 'file', path: 'usr/local/bin/nnp', content: fs.readFileSync(p.nnp), mode: 0o4755 }], { Cmd: ['nnp'] }),
  );
  await add(
    [HTTPD_REF],
    'httpd logging "httpd -D FOREGROUND", HTTP 200 on :80',
    b.onBusybox([{ type: 'file', path: 'usr/local/apache2/bin/httpd', content: fs.readFileSync(p.httpd), mode: 0o755 }], {
      Cmd: ['httpd', '-D', 'FOREGROUND'],
      Env: ['PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ExposedPorts: { '80/tcp': {} },
      WorkingDir: '/usr/local/apache2',
    }),
  );
  for (const ref of DISTINCT_TEST_IMAGES) await add([ref], `image-manager test image (marker ${markerFor(ref)})`, markerImage(b, markerFor(ref)));
  await add([...SAME_IMAGE_TAGS], 'one image under three tags', markerImage(b, 'same-image'));
  for (const [ref, user] of Object.entries(USER_IMAGES)) {
    await add([ref], `image USER ${user}`, b.onBusybox(undefined, { ...DEFAULT_CONFIG, User: user }));
  }
  await add(
    [PREDEFINED_GROUP_REF],
    'USER 1000, member of group 50000 defined in the image',
    b.onBusybox([{ type: 'dir', path: 'home/default-user', uid: 1000, gid: 1000 }], { ...DEFAULT_CONFIG, User: '1000' }, etcFiles(
      ['default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh'],
      ['default-user:x:1000:', 'group-defined-in-image:x:50000:default-user'],
    )),
  );
  if (inputs.pauseRef) {
    await add(
      [inputs.pauseRef],
      'pod infra image: /pause',
      b.scratch([{ type: 'file', path: 'pause', content: fs.readFileSync(p.pause), mode: 0o755 }], { Entrypoint: ['/pause'], User: '65535:65535' }),
    );
  }
  if (inputs.benchmark) {
    for (const ref of BENCHMARK_IMAGES) await add([ref], `benchmark busybox (marker ${markerFor(ref)})`, markerImage(b, markerFor(ref)));
  }
  return out;
}

/**
 * Pushes every fixture to the registry at `registryUrl`, under
 * `<upstream domain>/<path>:<tag>` for each of its references (see localRepoFor),
 * `concurrency` repositories at a time.
 */
export async function pushFixtures(registryUrl: string, fixtures: readonly Fixture[], concurrency = 4): Promise<void> {
  // One job per repository: pushing one blob twice at once to the same repository races in docker-registry.
  const byRepo = new Map<string, { tag: string; image: BuiltImage }[]>();
  for (const f of fixtures) {
    for (const ref of f.refs) {
      const { repo, tag } = localRepoFor(ref);
      if (!byRepo.has(repo)) byRepo.set(repo, []);
      byRepo.get(repo)!.push({ tag, image: f.image });
    }
  }
  const jobs = [...byRepo.entries()];
  const worker = async (): Promise<void> => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      for (const { tag, image } of job[1]) await pushImage(registryUrl, job[0], tag, image);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}
