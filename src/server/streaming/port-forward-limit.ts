/**
 * Bounds on concurrent port-forward connections. Each forwarded connection
 * into a pod runs one relay process for its lifetime (`nsenter` joins the
 * namespace and execs `socat`: 4.6 MiB RSS, 0.8 MiB of it private, measured
 * here), so an unbounded number of streams is an unbounded number of
 * processes. Neither the kubelet nor CRI-O
 * bound them (CRI-O relays in-process); peapod must, since its relays are
 * processes.
 *
 * Limits: MAX_PORT_FORWARDS_PER_CONNECTION per client connection (a browser
 * opens about 6 connections per host, `kubectl port-forward` one per local
 * connection) and MAX_PORT_FORWARDS for the whole server. Past either, the
 * forward is refused with an error naming the limit, on the port's error
 * stream as the kubelet reports forwarding errors; the session goes on.
 */

/** Concurrent forwarded connections one client connection may hold. */
export const MAX_PORT_FORWARDS_PER_CONNECTION = 64;
/** Concurrent forwarded connections the streaming server holds in total. */
export const MAX_PORT_FORWARDS = 256;

/** A forward refused because a limit is reached; the message names the limit. */
export class PortForwardLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortForwardLimitError';
  }
}

/** A counter of forwards in flight against a limit, optionally inside a wider one. */
export class PortForwardSlots {
  private active = 0;

  /**
   * @param limit how many may be held at once
   * @param scope what the limit covers, for the error ("on this connection", "in total")
   * @param parent the wider limit a slot also takes from
   */
  constructor(
    readonly limit: number,
    private readonly scope: string,
    private readonly parent?: PortForwardSlots,
  ) {}

  /** Forwards held now. */
  get inUse(): number {
    return this.active;
  }

  /** A child counter for one client connection, taking from this one too. */
  connection(limit = MAX_PORT_FORWARDS_PER_CONNECTION): PortForwardSlots {
    return new PortForwardSlots(limit, 'on this connection', this);
  }

  /**
   * Takes a slot here and in every wider limit.
   * @returns the function that gives it back (idempotent)
   * @throws PortForwardLimitError when this or a wider limit is reached
   */
  acquire(): () => void {
    if (this.active >= this.limit) throw new PortForwardLimitError(`too many port-forward connections ${this.scope} (limit ${this.limit})`);
    const releaseParent = this.parent?.acquire();
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      releaseParent?.();
    };
  }
}

/** The server-wide counter (one per streaming server). */
export function serverPortForwardSlots(limit = MAX_PORT_FORWARDS): PortForwardSlots {
  return new PortForwardSlots(limit, 'in total');
}
