import type * as grpc from '@grpc/grpc-js';

/**
 * Polls `cond` every `pollMs` until it holds or `ms` have passed (a
 * deadline, never a sleep to synchronise).
 * @returns whether it held, with one last look at the deadline.
 */
export async function until(cond: () => Promise<boolean> | boolean, ms: number, pollMs = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return cond();
}

/**
 * Polls `cond` every 25 ms until it holds.
 * @throws Error naming `what` when it does not hold within `ms`.
 */
export async function waitFor(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  if (!(await until(cond, ms, 25))) throw new Error(`timed out waiting for ${what}`);
}

/** The gRPC error a call fails with; throws when it succeeds. */
export async function rpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: grpc.ServiceError) => e,
  );
}
