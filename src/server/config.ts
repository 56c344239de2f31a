import { ConfigSources, loadConfigWith, PeapodConfig } from '../common/config';
import { CONFIG_SCHEMA } from './config-schema';

/**
 * peapod-cri's configuration: the core keys every front end shares plus the
 * server's own (see src/server/config-schema.ts and docs/config.md).
 */
export interface CriConfig extends PeapodConfig {
  socket: string;
  /** Seconds. */
  shutdown_timeout: number;
  streaming: {
    address: string;
    port: number;
    /** Seconds; 0 = never. */
    idle_timeout: number;
    /** Seconds. */
    stream_creation_timeout: number;
  };
  /** The Prometheus endpoint (docs/metrics.md). */
  metrics: {
    enable: boolean;
    address: string;
    /** 0 = a free port picked at start. */
    port: number;
  };
}

/** Command-line values of peapod-cri; they win over every file. */
export interface CriConfigOverrides {
  socket?: string;
  root?: string;
  runroot?: string;
  log_level?: string;
}

/**
 * Builds peapod-cri's effective configuration: defaults, the main file, the
 * drop-ins in lexical order, then the flags.
 * @throws ConfigError naming the file and the dotted key at fault.
 */
export function loadCriConfig(sources: Omit<ConfigSources, 'overrides'> & { overrides?: CriConfigOverrides } = {}): CriConfig {
  return loadConfigWith<CriConfig>(CONFIG_SCHEMA, { ...sources, overrides: { ...sources.overrides } });
}
