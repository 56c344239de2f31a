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
import { POD } from './pod-commands';
import { SYSTEM_DF, SYSTEM_PRUNE } from './system-commands';

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
    { name: 'force', short: 'f', type: 'bool', help: 'Remove the CLI\'s containers using the image first (peapod-cri\'s containers still keep it)' },
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

/** The flags `run` and `create` share (Podman's names; `--hostname` has no `-h`, which is help here). */
const CREATE_FLAGS: FlagSpec[] = [
  { name: 'cap-add', type: 'strings', value: 'capability', help: 'Add capabilities to the container\'s set (NET_ADMIN or CAP_NET_ADMIN; ALL: every capability)' },
  { name: 'cap-drop', type: 'strings', value: 'capability', help: 'Drop capabilities from the container\'s set (ALL: every one but those added)' },
  { name: 'cpus', type: 'string', value: 'number', help: 'Number of CPUs (a CFS quota over a 100 ms period, e.g. 1.5)' },
  { name: 'entrypoint', type: 'string', value: 'string', help: 'Overwrite the default ENTRYPOINT of the image (one word, or a JSON array)' },
  { name: 'env', short: 'e', type: 'strings', value: 'stringArray', help: 'Set environment variables in the container (NAME=VALUE, or NAME to take it from here)' },
  { name: 'env-file', type: 'strings', value: 'file', help: 'Read in a file of environment variables (NAME=VALUE lines)' },
  { name: 'hostname', type: 'string', value: 'string', help: 'Set the container host name (default: the first 12 characters of its ID)' },
  { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
  { name: 'label', short: 'l', type: 'strings', value: 'stringArray', help: 'Set metadata on the container (KEY=VALUE)' },
  { name: 'memory', short: 'm', type: 'string', value: 'string', help: 'Memory limit (format: <number>[<unit>], where unit = b, k, m or g)' },
  { name: 'name', type: 'string', value: 'string', help: 'Assign a name to the container (default: a random adjective_surname)' },
  { name: 'network', type: 'string', value: 'mode', help: 'Connect the container to a network: bridge (the CLI\'s CNI network), none, host', default: 'bridge', choices: ['bridge', 'none', 'host'] },
  { name: 'pod', type: 'string', value: 'string', help: 'Run the container in an existing pod (made with pod create)' },
  { name: 'privileged', type: 'bool', help: 'Give extended privileges: every capability and host device, no seccomp filter, no masked paths, /sys writable' },
  { name: 'publish', short: 'p', type: 'strings', value: 'stringArray', help: 'Publish a container\'s port to the host ([[IP:][HOST-PORT]:]CONTAINER-PORT[/PROTOCOL])' },
  { name: 'pull', type: 'string', value: 'policy', help: 'Pull image policy: always, missing, never', default: 'missing', choices: ['always', 'missing', 'never'] },
  { name: 'read-only', type: 'bool', help: 'Mount the container\'s root filesystem as read only' },
  { name: 'rm', type: 'bool', help: 'Remove the container (and its network) when it exits' },
  { name: 'security-opt', type: 'strings', value: 'stringArray', help: 'Security options: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges, apparmor=PROFILE, label=… (no effect)' },
  { name: 'stop-timeout', type: 'string', value: 'uint', help: 'Seconds to wait for the container to stop before killing it (default 10)' },
  { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY for the container' },
  { name: 'user', short: 'u', type: 'string', value: 'string', help: 'User to run as: USER[:GID] (a name or UID)' },
  { name: 'volume', short: 'v', type: 'strings', value: 'stringArray', help: 'Bind mount a host directory: HOST-DIR:CONTAINER-DIR[:ro|rw|z|Z|[r]private|[r]slave|[r]shared]' },
  { name: 'workdir', short: 'w', type: 'string', value: 'string', help: 'Working directory inside the container' },
];

/**
 * Orders flags by name, code unit by code unit (flag names are ASCII): not
 * localeCompare, whose first call loads ICU's collator (about 10 ms of start
 * for every command, since the table is built when this module loads).
 */
function byName(a: FlagSpec, b: FlagSpec): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const DETACH_KEYS: FlagSpec = { name: 'detach-keys', type: 'string', value: 'string', help: 'Override the key sequence for detaching a container (a comma list of letters and ctrl-<letter>; empty disables)', default: 'ctrl-p,ctrl-q' };

const RUN: CommandSpec = {
  name: 'run',
  summary: 'Run a command in a new container',
  description: 'Runs a process in a new container with its own sandbox (namespaces, a network per --network), or in a pod with --pod.\nExit codes: the container\'s, or 125 engine error, 126 the command cannot be invoked, 127 the command was not found.',
  usage: 'IMAGE [COMMAND [ARG...]]',
  minArgs: 1,
  interspersed: false,
  module: './commands/run',
  examples: ['peapod run --rm busybox echo hi', 'peapod run -it busybox sh', 'peapod run -d --name web -p 8080:80 busybox httpd -f -p 80'],
  flags: [...CREATE_FLAGS, { name: 'detach', short: 'd', type: 'bool', help: 'Run the container in the background and print its ID' } as FlagSpec, DETACH_KEYS].sort(byName),
};

const CREATE: CommandSpec = {
  name: 'create',
  summary: 'Create but do not start a container',
  usage: 'IMAGE [COMMAND [ARG...]]',
  minArgs: 1,
  interspersed: false,
  module: './commands/create',
  examples: ['peapod create --name box busybox sleep 1000'],
  flags: CREATE_FLAGS,
};

const START: CommandSpec = {
  name: 'start',
  summary: 'Start one or more containers',
  description: 'Starts created or exited containers (an exited one runs again with the same writable layer).\nWith --attach the exit code is the container\'s.',
  usage: 'CONTAINER [CONTAINER...]',
  minArgs: 1,
  module: './commands/start',
  flags: [
    { name: 'attach', short: 'a', type: 'bool', help: 'Attach container\'s STDOUT and STDERR' },
    DETACH_KEYS,
    { name: 'interactive', short: 'i', type: 'bool', help: 'Attach container\'s STDIN' },
  ],
};

const STOP_TIME: FlagSpec = { name: 'time', short: 't', type: 'string', value: 'int', help: 'Seconds to wait for stop before killing the container (default: its --stop-timeout, else 10)' };
const ALL_CONTAINERS: FlagSpec = { name: 'all', short: 'a', type: 'bool', help: 'All containers' };

const STOP: CommandSpec = {
  name: 'stop',
  summary: 'Stop one or more containers',
  description: 'Sends the stop signal (the image\'s StopSignal, default SIGTERM), waits, then SIGKILL.',
  usage: 'CONTAINER [CONTAINER...]',
  module: './commands/stop',
  flags: [ALL_CONTAINERS, { name: 'ignore', short: 'i', type: 'bool', help: 'Ignore errors when a specified container is missing' }, STOP_TIME],
};

const KILL: CommandSpec = {
  name: 'kill',
  summary: 'Kill one or more running containers with a specific signal',
  usage: 'CONTAINER [CONTAINER...]',
  module: './commands/kill',
  flags: [ALL_CONTAINERS, { name: 'signal', short: 's', type: 'string', value: 'string', help: 'Signal to send to the container', default: 'KILL' }],
};

const RESTART: CommandSpec = {
  name: 'restart',
  summary: 'Restart one or more containers',
  usage: 'CONTAINER [CONTAINER...]',
  module: './commands/restart',
  flags: [ALL_CONTAINERS, STOP_TIME],
};

const RM: CommandSpec = {
  name: 'rm',
  summary: 'Remove one or more containers',
  description: 'Removes containers with their writable layer and, for a container not in a pod, its network and namespaces.\nExit codes: 0 removed, 1 a container was not found, 2 a container is running (without --force), 125 other errors.',
  usage: 'CONTAINER [CONTAINER...]',
  module: './commands/rm',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all containers' },
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of a running container (stopped first)' },
    { name: 'ignore', short: 'i', type: 'bool', help: 'Ignore errors when a specified container is missing' },
    STOP_TIME,
  ],
};

const PS: CommandSpec = {
  name: 'ps',
  summary: 'List containers',
  description: 'Lists the CLI\'s containers (running ones unless --all); --external adds peapod-cri\'s, which the CLI shows but never changes.',
  maxArgs: 0,
  module: './commands/ps',
  examples: ['peapod ps -a', 'peapod ps -a --format "{{.Names}} {{.Status}}"', 'peapod ps --filter status=exited -q'],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all the containers, default is only running containers' },
    { name: 'external', type: 'bool', help: 'Show containers in storage not controlled by the CLI (peapod-cri\'s), read-only' },
    { name: 'filter', short: 'f', type: 'strings', value: 'stringArray', help: 'Filter output: id, name, status, label, ancestor, pod, exited (key=value or key!=value; repeatable)' },
    { name: 'format', type: 'string', help: 'Pretty-print containers to JSON or using a Go template' },
    { name: 'no-trunc', type: 'bool', help: 'Display the extended information' },
    { name: 'noheading', short: 'n', type: 'bool', help: 'Do not print headers' },
    { name: 'pod', type: 'bool', help: 'Print the ID and name of the pod the containers are associated with' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print the numeric IDs of the containers only' },
  ],
};

const LOGS: CommandSpec = {
  name: 'logs',
  summary: 'Fetch the logs of one or more containers',
  usage: 'CONTAINER [CONTAINER...]',
  minArgs: 1,
  module: './commands/logs',
  flags: [
    { name: 'follow', short: 'f', type: 'bool', help: 'Follow log output (until the container exits)' },
    { name: 'tail', type: 'string', value: 'int', help: 'Output the specified number of LINES at the end of the logs (-1: all)', default: '-1' },
    { name: 'timestamps', short: 't', type: 'bool', help: 'Output the timestamps in the log' },
  ],
};

const EXEC: CommandSpec = {
  name: 'exec',
  summary: 'Run a process in a running container',
  description: 'Exit codes: the process\'s, or 125 engine error, 126 the command cannot be invoked, 127 the command was not found, 255 the container is not running.',
  usage: 'CONTAINER COMMAND [ARG...]',
  minArgs: 2,
  interspersed: false,
  module: './commands/exec',
  examples: ['peapod exec web ls /', 'peapod exec -it web sh'],
  flags: [
    { name: 'env', short: 'e', type: 'strings', value: 'stringArray', help: 'Set environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', value: 'string', help: 'Sets the username or UID used and optionally the GID: USER[:GID]' },
    { name: 'workdir', short: 'w', type: 'string', value: 'string', help: 'Working directory inside the container' },
  ],
};

const ATTACH: CommandSpec = {
  name: 'attach',
  summary: 'Attach to a running container',
  usage: 'CONTAINER',
  minArgs: 1,
  maxArgs: 1,
  module: './commands/attach',
  flags: [DETACH_KEYS, { name: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' }],
};

const CONTAINER_INSPECT: CommandSpec = {
  name: 'inspect',
  summary: 'Display the configuration of a container',
  usage: 'CONTAINER [CONTAINER...]',
  minArgs: 1,
  module: './commands/inspect',
  flags: [{ name: 'format', short: 'f', type: 'string', help: 'Format the output to a Go template or json (default "json")' }],
};

const INSPECT_ANY: CommandSpec = {
  name: 'inspect',
  summary: 'Display the configuration of object denoted by ID',
  description: 'Inspects containers, then images, by name or ID (--type narrows it).',
  usage: 'NAME|ID [NAME|ID...]',
  minArgs: 1,
  module: './commands/inspect',
  flags: [
    { name: 'format', short: 'f', type: 'string', help: 'Format the output to a Go template or json (default "json")' },
    { name: 'type', short: 't', type: 'string', help: 'Specify inspect-object type: container, image, all', default: 'all', choices: ['container', 'image', 'all'] },
  ],
};

const WAIT: CommandSpec = {
  name: 'wait',
  summary: 'Block on one or more containers',
  description: 'Waits for each container to exit and prints its exit code.',
  usage: 'CONTAINER [CONTAINER...]',
  minArgs: 1,
  module: './commands/wait',
};

const PORT: CommandSpec = {
  name: 'port',
  summary: 'List port mappings or a specific mapping for the container',
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  maxArgs: 2,
  module: './commands/port',
  flags: [{ name: 'all', short: 'a', type: 'bool', help: 'Display port information for all containers' }],
};

const TOP: CommandSpec = {
  name: 'top',
  summary: 'Display the running processes of a container',
  description: 'Descriptors (Podman\'s): user, pid, ppid, pcpu, etime, tty, time, args (default), comm, group, vsz, rss, nice, state, hpid, huser.',
  usage: 'CONTAINER [FORMAT-DESCRIPTORS...]',
  minArgs: 1,
  module: './commands/top',
};

const STATS: CommandSpec = {
  name: 'stats',
  summary: 'Display a live stream of container resource usage statistics',
  usage: '[CONTAINER...]',
  module: './commands/stats',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default: running ones)' },
    { name: 'format', type: 'string', help: 'Pretty-print container statistics to JSON or using a Go template' },
    { name: 'no-stream', type: 'bool', help: 'Disable streaming stats and only pull the first result' },
  ],
};

const CP: CommandSpec = {
  name: 'cp',
  summary: 'Copy files/folders between a container and the local filesystem',
  description: 'CONTAINER:PATH to a host path, or a host path to CONTAINER:PATH. Paths in the container are resolved inside its root file system: symbolic links never lead out of it.',
  usage: 'SRC DEST',
  minArgs: 2,
  maxArgs: 2,
  module: './commands/cp',
  examples: ['peapod cp web:/etc/hostname .', 'peapod cp ./site web:/srv'],
};

const CLEANUP: CommandSpec = {
  name: 'cleanup',
  summary: 'Clean up the container after it exited',
  description: 'Records a container\'s exit and removes it when it was run with --rm (what conmon runs when a container exits).',
  usage: 'CONTAINER [CONTAINER...]',
  minArgs: 1,
  module: './commands/container-cleanup',
};

const CHECKPOINT: CommandSpec = {
  name: 'checkpoint',
  summary: 'Checkpoint a running container',
  description: 'Writes a checkpoint archive of the container (its processes dumped with CRIU, its config, spec and root file system changes, in the layout of CRI-O and the kubelet\'s checkpoint API); the container keeps running. Needs a CRIU that passes `criu check`.',
  usage: 'CONTAINER',
  minArgs: 1,
  maxArgs: 1,
  module: './commands/container-checkpoint',
  examples: ['peapod container checkpoint -e /tmp/web.tar web'],
  flags: [{ name: 'export', short: 'e', type: 'string', value: 'archive', help: 'Write the checkpoint archive to this file (required)' }],
};

const RESTORE: CommandSpec = {
  name: 'restore',
  summary: 'Restore a container from a checkpoint archive',
  description: 'Checks a checkpoint archive and that CRIU can run; recreating the processes from it is not built yet.',
  usage: '',
  maxArgs: 0,
  module: './commands/container-restore',
  examples: ['peapod container restore -i /tmp/web.tar'],
  flags: [{ name: 'import', short: 'i', type: 'string', value: 'archive', help: 'The checkpoint archive to restore from (required)' }],
};

/** The root of the table. */
export const ROOT: CommandSpec = {
  name: 'peapod',
  summary: 'Manage containers and images with the store peapod-cri uses (daemonless, in the manner of Podman)',
  commands: [
    ATTACH,
    {
      name: 'container',
      summary: 'Manage containers',
      commands: [ATTACH, CHECKPOINT, CLEANUP, CP, CREATE, EXEC, CONTAINER_INSPECT, KILL, { ...PS, name: 'list', aliases: ['ls', 'ps'] }, LOGS, PORT, RESTART, RESTORE, RM, RUN, START, STATS, STOP, TOP, WAIT],
    },
    CP,
    CREATE,
    EXEC,
    { name: 'image', summary: 'Manage images', commands: [INSPECT, { ...IMAGES, name: 'list', aliases: ['ls'] }, LOAD, PULL, { ...RMI, name: 'rm' }, SAVE, TAG, UNTAG] },
    IMAGES,
    INFO,
    INSPECT_ANY,
    KILL,
    LOAD,
    LOGIN,
    LOGOUT,
    LOGS,
    POD,
    PORT,
    PS,
    PULL,
    RESTART,
    RM,
    RMI,
    RUN,
    SAVE,
    START,
    STATS,
    STOP,
    { name: 'system', summary: 'Manage peapod', commands: [SYSTEM_DF, { ...INFO, summary: 'Display peapod system information (as `peapod info`)' }, SYSTEM_PRUNE] },
    TAG,
    TOP,
    UNSHARE,
    UNTAG,
    VERSION,
    WAIT,
  ],
};

/** A command module: `run(ctx, positional arguments, flags)` returns the exit code. */
interface CommandModule {
  run(ctx: CliContext, args: string[], flags: never): Promise<number>;
}

/**
 * Requires a command's module, named in the table as `./commands/NAME`. The
 * literal prefix lets the bundler (scripts/bundle-cli.js) see every command
 * module of the directory and put them all in the CLI's single-file bundle.
 */
function commandModule(module: string): CommandModule {
  const name = /^\.\/commands\/([a-z-]+)$/.exec(module)?.[1];
  if (name === undefined) throw new Error(`command module ${JSON.stringify(module)} is not ./commands/NAME`);
  return require(`./commands/${name}.js`) as CommandModule;
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
      if (parsed.asked) {
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
    // The spawn server of a CLI process (not of a caller running the CLI in its own process).
    if (io.stdout === process.stdout) (require('./spawn-server') as typeof import('./spawn-server')).startSpawnServerFor(commandPath, ctx.log, parsed.flags as { network?: unknown });
    const mod = commandModule(spec.module!);
    return await mod.run(ctx, parsed.args, parsed.flags as never);
  } catch (err) {
    io.stderr.write(formatError(err, debug));
    return exitCodeOf(err);
  } finally {
    await ctx?.close();
  }
}
