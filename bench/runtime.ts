/** What the benchmark needs from a runtime under test, whichever it is. */
import type { CriClient } from '../test/integration/harness/client';

/** A CRI runtime started by the benchmark, reachable through `client`. */
export interface RuntimeUnderTest {
  /** "peapod" or "containerd". */
  name: 'peapod' | 'containerd';
  /** Path of the CRI socket. */
  socket: string;
  client: CriClient;
  /** PID of the server process (peapod-cri or containerd). */
  serverPid(): number;
  /**
   * PIDs of the per-container monitors this server started (conmon for
   * peapod; containerd-shim-runc-v2 for containerd, one per pod).
   */
  monitorPids(): number[];
  /** Stops the server and every process it started, deletes its temp state. */
  stop(): Promise<void>;
}
