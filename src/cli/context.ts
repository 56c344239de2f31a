/**
 * What a command gets: the global flags, the configuration and the image
 * domain, each opened on first use (so `peapod version` opens no store and
 * `peapod images` loads no HTTP client).
 *
 * Opening the domain: the image store and puller of src/image-service are
 * built here the way openPeapod (src/runtime-service/peapod.ts) builds them,
 * piece by piece, so a command loads only what it uses (`peapod images`
 * neither the HTTP client nor the container code); the state database is
 * opened only for the image-in-use rule.
 */
import type { ImagePuller } from '../image-service/puller';
import type { ImageStore } from '../image-service/store/image-store';
import type { GlobalOptions, PeapodConfig } from './config';
import type { Logger } from '../common/logger';
import { cliLogLevel, createCliLogger } from './log';

/** The image side of the domain as the CLI uses it. */
export interface CliImages {
  store: ImageStore;
  /** The puller (made on first call: it loads the HTTP client). */
  puller(): ImagePuller;
  /**
   * IDs of the containers of either front end using image `id` (their rootfs
   * has its layers as lower dirs): what the domain's image-in-use rule
   * (runtime-service/image-removal.ts) checks.
   */
  containersUsing(id: string): string[];
}

/** Output streams of a command (tests and the bench pass their own). */
export interface CliStreams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** One command invocation's context; everything heavy is opened lazily and closed by `close`. */
export class CliContext {
  /** The log (pino's interface; pino itself loads on the first record written). */
  readonly log: Logger;
  private cfg: PeapodConfig | undefined;
  private imgs: CliImages | undefined;
  private state: import('../runtime-service/state-db').StateDb | undefined;
  private ctrStore: import('../runtime-service/container/store').ContainerStore | undefined;
  private domain: import('../runtime-service/peapod').Peapod | undefined;
  private engine: import('../runtime-service/container/engine').ContainerEngine | undefined;
  private secured = false;

  constructor(
    readonly globals: GlobalOptions,
    readonly io: CliStreams,
  ) {
    this.log = createCliLogger(cliLogLevel(globals.logLevel), io.stderr);
  }

  /** The effective configuration (read on first use). */
  get config(): PeapodConfig {
    // Lazy: the config module loads the TOML parser.
    this.cfg ??= (require('./config') as typeof import('./config')).loadCliConfig(this.globals);
    return this.cfg;
  }

  /** The image store and puller (opened on first use). */
  get images(): CliImages {
    if (!this.imgs) {
      const config = this.config;
      this.secureDirs();
      // Lazy: better-sqlite3 loads only for commands that touch the store.
      const { ImageStore: Store } = require('../image-service/store/image-store') as typeof import('../image-service/store/image-store');
      const store = Store.open((require('./config') as typeof import('./config')).storageRoot(config));
      let puller: ImagePuller | undefined;
      const log = this.log;
      this.imgs = {
        store,
        puller: () => {
          if (!puller) {
            const { ImagePuller: Puller } = require('../image-service/puller') as typeof import('../image-service/puller');
            const { loadRegistriesConf } = require('../image-service/registries-conf') as typeof import('../image-service/registries-conf');
            puller = new Puller(store, {
              registries: () => loadRegistriesConf(config.image.registries_conf, config.image.registries_conf_dir),
              maxConcurrentDownloads: config.image.max_concurrent_downloads,
              connectTimeoutMs: config.image.connect_timeout * 1000,
              idleTimeoutMs: config.image.idle_timeout * 1000,
              log: (msg, fields) => log.debug(fields ?? {}, msg),
            });
          }
          return puller;
        },
        containersUsing: (id) => this.imageUsers().usingImage(id),
      };
    }
    return this.imgs;
  }

  /**
   * peapod's domain for owner `cli`: pods, containers and images, the same
   * code peapod-cri runs (runtime-service/peapod.ts), built on first use on
   * this context's image store and state database, the registry client
   * loaded only if a pull needs it. No recovery and no exit watcher are
   * started here: the commands that need them ask (pod-lifecycle.ts,
   * containers/domain.ts).
   */
  peapod(): import('../runtime-service/peapod').Peapod {
    if (!this.domain) {
      const { Peapod } = require('../runtime-service/peapod') as typeof import('../runtime-service/peapod');
      // The image store opens when a command first uses it (`pod create`, `pod rm` never do).
      const images = (): CliImages => this.images;
      this.domain = new Peapod(this.config, this.log, this.stateDb(), {
        get store() {
          return images().store;
        },
        get puller() {
          return images().puller();
        },
      });
    }
    return this.domain;
  }

  /**
   * The CLI's pods and containers, read-only and cheap to open (pod-read.ts):
   * for the commands that only show them. The domain itself when it is open.
   */
  podsView(): import('./pods').PodDomain {
    if (this.domain) return this.domain;
    const { podsView } = require('./pod-read') as typeof import('./pod-read');
    return podsView(this.stateDb(), this.config, this.containerStore());
  }

  /**
   * Sets the modes of root, runroot and what peapod keeps below them, once
   * per command, before the first store is opened: every start of a front
   * end enforces them (runtime-service/state-dirs.ts, docs/security.md).
   */
  private secureDirs(): void {
    if (this.secured) return;
    (require('../runtime-service/state-dirs') as typeof import('../runtime-service/state-dirs')).securePeapodDirs(this.config);
    this.secured = true;
  }

  /** Who uses an image, from the shared state database (opened on first use). */
  imageUsers(): import('../runtime-service/image-removal').ImageUsers {
    const { imageUsersOf } = require('../runtime-service/container/store') as typeof import('../runtime-service/container/store');
    return imageUsersOf(this.stateDb());
  }

  /** The state database `<root>/state.db` as the CLI (owner `cli`), opened on first use. */
  stateDb(): import('../runtime-service/state-db').StateDb {
    if (this.state) return this.state;
    this.secureDirs();
    const { openStateDb } = require('../runtime-service/state-db') as typeof import('../runtime-service/state-db');
    return (this.state ??= openStateDb(this.config.root, 'cli'));
  }

  /**
   * The CLI's container records alone (no engine: `ps` and other reads
   * stay light), on the state database.
   */
  containerStore(): import('../runtime-service/container/store').ContainerStore {
    if (!this.ctrStore) {
      const { ContainerStore } = require('../runtime-service/container/store') as typeof import('../runtime-service/container/store');
      const { containerDirs } = require('../runtime-service/container/paths') as typeof import('../runtime-service/container/paths');
      this.ctrStore = new ContainerStore(this.stateDb(), containerDirs(this.config.root, this.config.runroot).state);
    }
    return this.ctrStore;
  }

  /**
   * The container engine alone (no image store, no pods): what exec, logs,
   * wait, kill and the like need; the whole domain's when it is open.
   */
  containerEngine(): import('../runtime-service/container/engine').ContainerEngine {
    if (this.domain) return this.domain.containers;
    if (!this.engine) {
      const { openContainerEngine } = require('../runtime-service/container/open') as typeof import('../runtime-service/container/open');
      this.engine = openContainerEngine(this.config, this.log, this.stateDb());
    }
    return this.engine;
  }

  /**
   * Closes what was opened (the databases and the store's temp dir), once the
   * store's background deletions are done: a short-lived command must not
   * leave the files of an image it removed behind in the store's tmp/.
   */
  async close(): Promise<void> {
    // The domain's exit watcher only; its databases are this context's, closed below.
    this.domain?.containers.close();
    this.domain = undefined;
    this.engine?.close();
    this.engine = undefined;
    await this.imgs?.store.settled();
    this.imgs?.store.close();
    this.imgs = undefined;
    this.state?.close();
    this.state = undefined;
  }
}
