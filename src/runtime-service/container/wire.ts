import * as path from 'node:path';
import { ConmonDriver } from '../../conmon/driver';
import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import { ContainerEngine } from './engine';
import type { StateDb } from '../state-db';

/**
 * Builds the container engine from the configuration: state under
 * `<root>/containers` and `<runroot>/containers*`, conmon from
 * `runtime.conmon_path`, runtime handlers from `[runtime.runtimes]`.
 * Call `recover()` on it before serving.
 */
export function containerEngineFor(config: PeapodConfig, log: Logger, state: StateDb): ContainerEngine {
  return new ContainerEngine({
    root: path.resolve(config.root),
    runroot: path.resolve(config.runroot),
    conmon: new ConmonDriver(config.runtime.conmon_path),
    runtimes: config.runtime.runtimes,
    defaultRuntime: config.runtime.default_runtime,
    cgroupDriver: config.runtime.cgroup_driver,
    log,
    state,
  });
}
