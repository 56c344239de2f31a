import type { RemoteCommandBackend, StdioStreams } from './backend';
import type { AttachStreamRequest, ExecStreamRequest } from './requests';
import { exitCodeStatus, internalErrorStatus, K8sStatus, successStatus } from './status';

/** Remote-command subprotocols over SPDY, most preferred first (X-Stream-Protocol-Version). */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;

/** The port-forward subprotocol over SPDY. */
export const SPDY_PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** Remote-command protocol versions that carry a resize stream (v3 and later). */
export function supportsResize(protocol: string): boolean {
  return protocol !== 'channel.k8s.io' && protocol !== 'v2.channel.k8s.io' && protocol !== 'base64.channel.k8s.io' && protocol !== '';
}

/** Remote-command protocol versions that report every outcome as Status JSON (v4 and later). */
export function reportsJsonStatus(protocol: string): boolean {
  return protocol.startsWith('v4.') || protocol.startsWith('v5.');
}

/**
 * Runs an exec or attach against the backend with streams already connected
 * to the client, and turns the outcome into the Status to report: Success,
 * Failure/NonZeroExitCode with an ExitCode cause, or an internal error.
 */
export async function runRemoteCommand(backend: RemoteCommandBackend, req: ExecStreamRequest | AttachStreamRequest, io: StdioStreams): Promise<K8sStatus> {
  try {
    if (req.kind === 'exec') {
      const code = await backend.exec(req.containerId, req.cmd, io);
      return code === 0 ? successStatus() : exitCodeStatus(code);
    }
    if (!backend.attach) throw new Error('attach is not supported by this backend');
    await backend.attach(req.containerId, io);
    return successStatus();
  } catch (err) {
    const what = req.kind === 'exec' ? `error executing command in container ${req.containerId}` : `error attaching to container ${req.containerId}`;
    return internalErrorStatus(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
