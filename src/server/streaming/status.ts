/**
 * The outcome of a remote command as the Kubernetes remote-command protocols
 * report it on the error stream (k8s.io/apimachinery metav1.Status, the
 * reason and cause names of pkg/util/remotecommand).
 */

/** metav1.Status as JSON, the fields the remote-command protocols use. */
export interface K8sStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: Array<{ reason: string; message: string }> };
  code?: number;
}

/** Protocol versions that report every outcome as Status JSON (v4 and later). */
export type StatusStyle = 'json' | 'text';

/** Success: the command exited 0. */
export function successStatus(): K8sStatus {
  return { metadata: {}, status: 'Success' };
}

/** Failure with reason NonZeroExitCode and an ExitCode cause carrying `exitCode` in decimal. */
export function exitCodeStatus(exitCode: number): K8sStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** Failure with reason InternalError (code 500) for a command that could not be run. */
export function internalErrorStatus(message: string): K8sStatus {
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', code: 500 };
}

/**
 * The bytes to write on the error stream for a status, or none.
 * `json` (v4.channel.k8s.io and later): the Status as JSON, success included.
 * `text` (channel.k8s.io to v3): only failures, as their message.
 */
export function encodeStatus(status: K8sStatus, style: StatusStyle): Buffer | undefined {
  if (style === 'json') return Buffer.from(JSON.stringify(status));
  if (status.status === 'Success') return undefined;
  return Buffer.from(status.message ?? 'unknown error');
}
