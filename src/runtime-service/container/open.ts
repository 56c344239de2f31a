import * as path from 'node:path';
import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import { ConmonDriver } from '../../conmon/driver';
import type { StateDb } from '../state-db';
import { ContainerEngine } from './engine';

/**
 * The container engine on peapod's configuration: root and runroot
 * resolved, conmon from `runtime.conmon_path`, the runtime handlers, the
 * default handler and the cgroup driver, on the state database `state`
 * (whose owner is the front end's). What openPeapod composes, and what a
 * front end that needs no pods or images (the CLI's exec, logs, wait)
 * builds alone.
 */
export function openContainerEngine(config: PeapodConfig, log: Logger, state: StateDb): ContainerEngine {
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
