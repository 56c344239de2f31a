/**
 * The `peapod system …` commands of the command table (commands.ts):
 * Podman 4.3's `system df` and `system prune`, each run by its own module.
 */
import type { CommandSpec } from './argv';

/** `system df`. */
export const SYSTEM_DF: CommandSpec = {
  name: 'df',
  summary: 'Show peapod disk usage',
  description: "Disk usage of the store's images, the CLI's containers (their writable layers) and volumes (peapod has none).",
  maxArgs: 0,
  module: './commands/system-df',
  examples: ['peapod system df', 'peapod system df -v', 'peapod system df --format json'],
  flags: [
    { name: 'format', type: 'string', help: 'Pretty-print the summary to JSON or using a Go template' },
    { name: 'verbose', short: 'v', type: 'bool', help: 'Show detailed information on disk usage' },
  ],
};

/** `system prune`. */
export const SYSTEM_PRUNE: CommandSpec = {
  name: 'prune',
  summary: 'Remove unused data',
  description: "Removes the CLI's stopped pods and containers and dangling images (with --all, every image no container uses). peapod-cri's pods and containers are never touched.",
  maxArgs: 0,
  module: './commands/system-prune',
  examples: ['peapod system prune', 'peapod system prune -a -f', 'peapod system prune -f --filter until=24h'],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused data (every image no container uses)' },
    { name: 'filter', type: 'strings', value: 'filter', help: "Prune only what matches: label=KEY[=VALUE], label!=KEY[=VALUE], until=TIME (repeatable)" },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    { name: 'volumes', type: 'bool', help: 'Prune volumes (peapod has none: accepted for Podman compatibility)' },
  ],
};
