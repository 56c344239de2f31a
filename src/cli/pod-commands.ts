/**
 * The `peapod pod …` part of the command table (commands.ts): Podman 4.3's
 * names, aliases, arguments and flags for the pod commands, each run by
 * its own module in commands/pod-*.ts.
 */
import type { CommandSpec, FlagSpec } from './argv';

const ALL: FlagSpec = { name: 'all', short: 'a', type: 'bool', help: 'Act on all pods' };
const LATEST: FlagSpec = { name: 'latest', short: 'l', type: 'bool', help: 'Act on the latest pod peapod is aware of' };
const IGNORE: FlagSpec = { name: 'ignore', short: 'i', type: 'bool', help: 'Ignore errors when a specified pod is missing' };
const POD_ID_FILE: FlagSpec = { name: 'pod-id-file', type: 'strings', value: 'file', help: 'Read the pod ID from the file (repeatable)' };
const TIME: FlagSpec = { name: 'time', short: 't', type: 'string', value: 'uint', help: 'Seconds to wait for the pod\'s containers to stop before killing them', default: '10' };

const CREATE: CommandSpec = {
  name: 'create',
  summary: 'Create a new empty pod',
  description:
    "After creating the pod, the pod ID is printed to stdout.\nThe pod's namespaces and network are set up at once (peapod runs no infra container), so a new pod is Running; containers join it with `peapod run --pod` or `peapod create --pod`.",
  usage: '[NAME]',
  maxArgs: 1,
  module: './commands/pod-create',
  examples: ['peapod pod create', 'peapod pod create --label foo=bar mypod', 'peapod pod create --name web -p 8080:80 --share +pid'],
  flags: [
    { name: 'cgroup-parent', type: 'string', value: 'path', help: 'Optional parent cgroup for the pod' },
    { name: 'dns', type: 'strings', value: 'ip', help: 'Set custom DNS servers (repeatable)' },
    { name: 'dns-option', type: 'strings', value: 'option', help: 'Set custom DNS options (repeatable)' },
    { name: 'dns-search', type: 'strings', value: 'domain', help: 'Set custom DNS search domains (repeatable)' },
    { name: 'hostname', short: 'h', type: 'string', help: 'Set the hostname of the pod (default: its name)' },
    { name: 'label', short: 'l', type: 'strings', value: 'key=value', help: 'Set metadata on the pod (repeatable)' },
    { name: 'label-file', type: 'strings', value: 'file', help: 'Read in a line delimited file of labels' },
    { name: 'name', short: 'n', type: 'string', help: 'Assign a name to the pod' },
    { name: 'network', type: 'string', value: 'mode', help: 'Network mode: bridge (the CLI\'s default network), none (loopback only) or host', default: 'bridge' },
    { name: 'net', type: 'string', value: 'mode', help: 'Alias of --network' },
    { name: 'pod-id-file', type: 'string', value: 'file', help: 'Write the pod ID to the file' },
    { name: 'publish', short: 'p', type: 'strings', value: '[[ip:][hostPort]:]containerPort[/protocol]', help: "Publish a port of the pod's network to the host (repeatable)" },
    { name: 'replace', type: 'bool', help: 'If a pod with the same name exists, replace it' },
    { name: 'share', type: 'string', value: 'namespaces', help: 'Namespaces the pod shares: net, ipc and uts always, pid if listed ("+pid" adds it to the default)', default: 'ipc,net,uts' },
    { name: 'sysctl', type: 'strings', value: 'name=value', help: 'Namespaced sysctls of the pod (repeatable)' },
  ],
};

const PS: CommandSpec = {
  name: 'ps',
  aliases: ['ls', 'list'],
  summary: 'List pods',
  description: 'List all pods on system including their names, ids and current state.',
  maxArgs: 0,
  module: './commands/pod-ps',
  examples: ['peapod pod ps', 'peapod pod ps --ctr-names --ctr-status', 'peapod pod ps --filter status=running --format "{{.Name}}"'],
  flags: [
    { name: 'ctr-ids', type: 'bool', help: 'Display the container UUIDs. If no-trunc is not set they will be truncated' },
    { name: 'ctr-names', type: 'bool', help: 'Display the container names' },
    { name: 'ctr-status', type: 'bool', help: 'Display the container status' },
    { name: 'filter', short: 'f', type: 'strings', value: 'filter', help: 'Filter output: ctr-ids, ctr-names, ctr-number, ctr-status, id, label, name, network, status, until (key=value; repeatable)' },
    { name: 'format', type: 'string', help: 'Pretty-print pods to JSON or using a Go template' },
    LATEST,
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate pod and container IDs' },
    { name: 'noheading', type: 'bool', help: 'Do not print headers' },
    { name: 'ns', type: 'bool', help: 'Display namespace information of the pod' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print the numeric IDs of the pods only' },
    { name: 'sort', type: 'string', help: 'Sort output by created, id, name, number or status', default: 'created', choices: ['created', 'id', 'name', 'number', 'status'] },
  ],
};

const INSPECT: CommandSpec = {
  name: 'inspect',
  summary: 'Displays a pod configuration',
  description: 'Display the configuration for a pod by name or id',
  usage: 'POD [POD...]',
  module: './commands/pod-inspect',
  examples: ['peapod pod inspect podID', 'peapod pod inspect --format "{{.State}} {{.NumContainers}}" mypod'],
  flags: [{ name: 'format', short: 'f', type: 'string', help: 'Format the output to a Go template or json (default "json")' }, LATEST],
};

const START: CommandSpec = {
  name: 'start',
  summary: 'Start one or more pods',
  description: "The pod's namespaces and network are set up again if it was stopped, then its containers are started.",
  usage: 'POD [POD...]',
  module: './commands/pod-start',
  examples: ['peapod pod start podID', 'peapod pod start --latest', 'peapod pod start --all'],
  flags: [{ ...ALL, help: 'Start all pods' }, LATEST, POD_ID_FILE],
};

const STOP: CommandSpec = {
  name: 'stop',
  summary: 'Stop one or more pods',
  description: "Stops the pod's containers (their stop signal, then SIGKILL after --time seconds), then the pod's network and namespaces' processes.",
  usage: 'POD [POD...]',
  module: './commands/pod-stop',
  examples: ['peapod pod stop mywebserverpod', 'peapod pod stop --latest', 'peapod pod stop --time 0 490eb 3557fb'],
  flags: [{ ...ALL, help: 'Stop all running pods' }, IGNORE, LATEST, POD_ID_FILE, TIME],
};

const RM: CommandSpec = {
  name: 'rm',
  aliases: ['remove'],
  summary: 'Remove one or more pods',
  description: 'Removes pods and their containers. A pod with running containers is refused unless --force.\nExit codes: 0 removed, 1 a pod was not found, 125 other errors.',
  usage: 'POD [POD...]',
  module: './commands/pod-rm',
  examples: ['peapod pod rm mywebserverpod', 'peapod pod rm -f 860a4b23', 'peapod pod rm -f -a'],
  flags: [
    { ...ALL, help: 'Remove all pods' },
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of a running pod by first stopping all containers, then removing all containers in the pod' },
    IGNORE,
    LATEST,
    POD_ID_FILE,
    { ...TIME, help: 'Seconds to wait for the pod\'s containers to stop before killing them (with --force)' },
  ],
};

const EXISTS: CommandSpec = {
  name: 'exists',
  summary: 'Check if a pod exists in local storage',
  description: 'If the named pod exists, exit 0, otherwise exit 1.',
  usage: 'POD',
  minArgs: 1,
  maxArgs: 1,
  module: './commands/pod-exists',
  examples: ['peapod pod exists podID', 'peapod pod exists mypod || peapod pod create --name mypod'],
};

const KILL: CommandSpec = {
  name: 'kill',
  summary: 'Send the specified signal or SIGKILL to containers in pod',
  description: 'Signals are sent to the main process of each running container of the pods.',
  usage: 'POD [POD...]',
  module: './commands/pod-kill',
  examples: ['peapod pod kill podID', 'peapod pod kill --signal TERM mywebserver', 'peapod pod kill --latest'],
  flags: [{ ...ALL, help: 'Kill all containers in all pods' }, LATEST, { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the containers in the pod', default: 'KILL' }],
};

const RESTART: CommandSpec = {
  name: 'restart',
  summary: 'Restart one or more pods',
  description: "Stops the pod's running containers and starts them again (the pod's network is set up again first if the pod was stopped).",
  usage: 'POD [POD...]',
  module: './commands/pod-restart',
  examples: ['peapod pod restart podID1 podID2', 'peapod pod restart --latest', 'peapod pod restart --all'],
  flags: [{ ...ALL, help: 'Restart all pods' }, LATEST],
};

/** `peapod pod`: the group. */
export const POD: CommandSpec = {
  name: 'pod',
  summary: 'Manage pods',
  description: 'Pods are groups of containers sharing network, IPC and UTS namespaces (and optionally PID), as Kubernetes pods: the same sandbox code peapod-cri runs.',
  commands: [CREATE, EXISTS, INSPECT, KILL, PS, RESTART, RM, START, STOP],
};
