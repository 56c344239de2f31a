/**
 * The command table of `peapod`: every command with Podman's name, aliases,
 * arguments and flags, and the module that runs it (required only when the
 * command runs, so a command loads only what it needs). Global flags:
 * --root, --runroot, --log-level, --config, --config-dir. Exit codes as
 * Podman's (errors.ts).
 */
import { CommandSpec, FlagSpec, helpText, parseArgv } from './argv';
import type { GlobalOptions } from './config';
import type { CliContext, CliStreams } from './context';
import { EXIT_ENGINE, exitCodeOf, formatError } from './errors';
import { peapodVersion } from './package-version';

/** The global flags (Podman's names; --config-dir as peapod-cri's). */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'root', type: 'string', value: 'dir', help: 'Persistent state: images and layers (config key root; default /var/lib/peapod)' },
  { name: 'runroot', type: 'string', value: 'dir', help: 'State that lives until reboot (config key runroot; default /run/peapod)' },
  { name: 'log-level', type: 'string', value: 'level', help: 'Log messages at and above this level: trace, debug, info, warn, error, fatal', default: 'warn' },
  { name: 'config', type: 'string', value: 'file', help: 'Configuration file (default /etc/peapod/peapod.conf)' },
  { name: 'config-dir', type: 'string', value: 'dir', help: 'Drop-in directory of *.conf files (default /etc/peapod/peapod.conf.d)' },
];

const IMAGES: CommandSpec = {
  name: 'images',
  summary: 'List images in local storage',
  usage: '[IMAGE]',
  maxArgs: 1,
  module: './commands/images',
  examples: ['peapod images --format json', 'peapod images --sort repository --format "table {{.ID}} {{.Repository}} {{.Tag}}"', 'peapod images --filter dangling=true'],
  flags: [
    { name: 'digests', type: 'bool', help: 'Show digests' },
    { name: 'filter', short: 'f', type: 'strings', value: 'filter', help: 'Filter output: reference, dangling, before, since, id, label (key=value or key!=value; repeatable)' },
    { name: 'format', type: 'string', help: 'Change the output format to table, JSON or a Go template' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
    { name: 'noheading', short: 'n', type: 'bool', help: 'Do not print column headings' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Display only image IDs' },
    { name: 'sort', type: 'string', help: 'Sort by created, id, repository, size, tag', default: 'created', choices: ['created', 'id', 'repository', 'size', 'tag'] },
  ],
};

const AUTHFILE: FlagSpec = { name: 'authfile', type: 'string', value: 'path', help: 'Path of the authentication file (default ${XDG_RUNTIME_DIR}/containers/auth.json; env REGISTRY_AUTH_FILE)' };

const PULL: CommandSpec = {
  name: 'pull',
  summary: 'Pull an image from a registry',
  description: 'Pulls an image from a registry and stores it locally.\nAn image can be pulled by tag or digest. If a tag is not specified, the image with the \'latest\' tag is pulled.',
  usage: 'IMAGE [IMAGE...]',
  minArgs: 1,
  module: './commands/pull',
  examples: ['peapod pull busybox', 'peapod pull -q 127.0.0.1:5000/library/busybox:latest'],
  flags: [
    AUTHFILE,
    { name: 'creds', type: 'string', value: 'USER:PASSWORD', help: 'Credentials to use for authenticating to a registry (instead of the auth file)' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress output information when pulling images (print only the image ID)' },
  ],
};

const LOGIN: CommandSpec = {
  name: 'login',
  summary: 'Log in to a container registry',
  description: 'Checks the credentials against the registry, then stores them in the auth file.',
  usage: 'REGISTRY',
  minArgs: 1,
  maxArgs: 1,
  module: './commands/login',
  examples: ['peapod login -u user --password-stdin registry.example.com < password.txt'],
  flags: [
    AUTHFILE,
    { name: 'get-login', type: 'bool', help: 'Return the current login user for the registry' },
    { name: 'password', short: 'p', type: 'string', help: 'Password for registry' },
    { name: 'password-stdin', type: 'bool', help: 'Take the password from stdin' },
    { name: 'username', short: 'u', type: 'string', help: 'Username for registry' },
  ],
};

const LOGOUT: CommandSpec = {
  name: 'logout',
  summary: 'Log out of a container registry',
  description: 'Removes the stored credentials of the registry from the auth file.',
  usage: 'REGISTRY',
  maxArgs: 1,
  module: './commands/logout',
  flags: [{ name: 'all', short: 'a', type: 'bool', help: 'Remove the credentials of all registries in the auth file' }, AUTHFILE],
};

const RMI: CommandSpec = {
  name: 'rmi',
  summary: 'Removes one or more images from local storage',
  description: 'Removes images by ID, ID prefix, name or digest. A name of an image that has other names only removes that name.\nExit codes: 0 removed, 1 an image was not found, 2 an image is in use by a container, 125 other errors.',
  usage: 'IMAGE [IMAGE...]',
  module: './commands/rmi',
  examples: ['peapod rmi imageID', 'peapod rmi --force busybox', 'peapod rmi c4dfb1609ee2 93fd78260bd1'],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all images' },
    { name: 'force', short: 'f', type: 'bool', help: 'Accepted for Podman compatibility; an image a container uses is still refused (remove the container first)' },
    { name: 'ignore', short: 'i', type: 'bool', help: 'Ignore errors if a specified image does not exist' },
  ],
};

const TAG: CommandSpec = {
  name: 'tag',
  summary: 'Add an additional name to a local image',
  description: 'Adds one or more names to a stored image. A name without a registry is stored under localhost/.',
  usage: 'IMAGE TARGET_NAME [TARGET_NAME...]',
  minArgs: 2,
  module: './commands/tag',
  examples: ['peapod tag 0e3bbc2 fedora:latest', 'peapod tag httpd myregistryhost:5000/fedora/httpd:v2'],
};

const UNTAG: CommandSpec = {
  name: 'untag',
  summary: 'Remove a name from a local image',
  description: 'Removes names from a stored image; with no name, all of them. The image itself stays.',
  usage: 'IMAGE [NAME...]',
  minArgs: 1,
  module: './commands/untag',
  examples: ['peapod untag 0e3bbc2', 'peapod untag imageID:latest otherImageName:latest'],
};

const INSPECT: CommandSpec = {
  name: 'inspect',
  summary: 'Display the configuration of an image',
  usage: 'IMAGE [IMAGE...]',
  minArgs: 1,
  module: './commands/image-inspect',
  examples: ['peapod image inspect busybox', 'peapod image inspect --format "{{.Id}} {{.Size}}" busybox'],
  flags: [{ name: 'format', short: 'f', type: 'string', help: 'Format the output to a Go template or json (default "json")' }],
};

const SAVE: CommandSpec = {
  name: 'save',
  summary: 'Save image(s) to an archive',
  description: 'Saves images as an OCI archive (an OCI image layout in a tar, blobs exactly as stored) to a file or stdout.',
  usage: 'IMAGE [IMAGE...]',
  minArgs: 1,
  module: './commands/save',
  examples: ['peapod save -o busybox.tar busybox', 'peapod save busybox > busybox.tar'],
  flags: [
    { name: 'format', type: 'string', help: 'Archive format (only oci-archive)', default: 'oci-archive', choices: ['oci-archive'] },
    { name: 'output', short: 'o', type: 'string', value: 'file', help: 'Write to a specified file (default: stdout, which must be redirected)' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the output' },
  ],
};

const LOAD: CommandSpec = {
  name: 'load',
  summary: 'Load image(s) from a tar archive',
  description: 'Loads images from an oci-archive or a docker-archive (optionally gzip- or zstd-compressed), verified as a registry pull is.',
  maxArgs: 0,
  module: './commands/load',
  examples: ['peapod load -i busybox.tar', 'peapod load < busybox.tar'],
  flags: [
    { name: 'input', short: 'i', type: 'string', value: 'file', help: 'Read from specified archive file (default: stdin)' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the output' },
  ],
};

const INFO: CommandSpec = {
  name: 'info',
  summary: 'Display peapod system information',
  description: 'The host, the store (paths, image count), the registries configuration and the versions of runc and conmon.',
  maxArgs: 0,
  module: './commands/info',
  flags: [{ name: 'format', short: 'f', type: 'string', help: 'Change the output format to JSON or a Go template' }],
};

const UNSHARE: CommandSpec = {
  name: 'unshare',
  summary: 'Run a command in a modified user namespace',
  description:
    "Runs a command in the rootless user's user and mount namespace, the one peapod's containers and mounts live in: the user is uid 0 there and the subordinate IDs of /etc/subuid and /etc/subgid are 1 to N.\n" +
    'Without a command, runs $SHELL (or /bin/sh). PEAPOD_ROOT and PEAPOD_RUNROOT name the store and the runroot. Only for rootless users.',
  usage: '[COMMAND [ARG...]]',
  interspersed: false,
  module: './commands/unshare',
  examples: ['peapod unshare id', 'peapod unshare cat /proc/self/uid_map', 'peapod unshare ls -ln ~/.local/share/peapod/storage'],
};

const VERSION: CommandSpec = {
  name: 'version',
  summary: 'Display the peapod version information',
  maxArgs: 0,
  module: './commands/version',
  flags: [{ name: 'format', short: 'f', type: 'string', help: 'Change the output format to JSON or a Go template' }],
};

/** The root of the table. */
export const ROOT: CommandSpec = {
  name: 'peapod',
  summary: 'Manage images with the store peapod-cri uses (daemonless, in the manner of Podman)',
  commands: [
    { name: 'image', summary: 'Manage images', commands: [INSPECT, { ...IMAGES, name: 'list', aliases: ['ls'] }, LOAD, PULL, { ...RMI, name: 'rm' }, SAVE, TAG, UNTAG] },
    IMAGES,
    INFO,
    LOAD,
    LOGIN,
    LOGOUT,
    PULL,
    RMI,
    SAVE,
    TAG,
    UNSHARE,
    UNTAG,
    VERSION,
  ],
};

/** A command module: `run(ctx, positional arguments, flags)` returns the exit code. */
interface CommandModule {
  run(ctx: CliContext, args: string[], flags: never): Promise<number>;
}

/**
 * Runs the CLI on `argv` (without node and the script) and returns the exit
 * code. Errors become one `Error: …` line on stderr (usage errors add a
 * "See '… --help'" line): 125 for flag and engine errors, a command's own
 * code otherwise.
 */
export async function runCli(argv: string[], io: CliStreams): Promise<number> {
  let debug = argv.some((a, i) => (a === '--log-level' && /^(debug|trace)$/i.test(argv[i + 1] ?? '')) || /^--log-level=(debug|trace)$/i.test(a));
  let ctx: CliContext | undefined;
  try {
    const parsed = parseArgv(ROOT, GLOBAL_FLAGS, argv);
    if (parsed.kind === 'version') {
      io.stdout.write(`peapod version ${peapodVersion()}\n`);
      return 0;
    }
    if (parsed.kind === 'help') {
      const text = helpText(parsed.path, GLOBAL_FLAGS);
      // Asked for help: stdout, 0. A group without its subcommand: stderr, 125 (Podman's "missing command").
      const asked = argv.includes('--help') || argv.includes('-h') || argv.includes('help');
      if (asked) {
        io.stdout.write(text);
        return 0;
      }
      io.stderr.write(text + `Error: missing command '${parsed.path.map((c) => c.name).join(' ')} COMMAND'\n`);
      return EXIT_ENGINE;
    }
    const globals = parsed.globals as GlobalOptions;
    debug = /^(debug|trace)$/i.test(String(globals.logLevel));
    const spec = parsed.path[parsed.path.length - 1];
    // Rootless (a user, or the user's namespace): the command runs again
    // inside the user's namespace (rootless.ts), unless it needs none.
    const rootless = process.geteuid!() !== 0 || process.env._PEAPOD_USERNS ? (require('./rootless') as typeof import('./rootless')) : undefined;
    const commandPath = parsed.path.slice(1).map((c) => c.name);
    if (rootless && io.stdout === process.stdout && rootless.needsUserNamespace(commandPath) && rootless.shouldReexec()) return await rootless.reexecInUserNamespace(argv);
    const { CliContext: Ctx } = require('./context') as typeof import('./context');
    ctx = new Ctx(globals, io);
    const warning = rootless?.namespaceWarning();
    if (warning) ctx.log.warn(warning);
    const mod = require(spec.module!) as CommandModule;
    return await mod.run(ctx, parsed.args, parsed.flags as never);
  } catch (err) {
    io.stderr.write(formatError(err, debug));
    return exitCodeOf(err);
  } finally {
    await ctx?.close();
  }
}
