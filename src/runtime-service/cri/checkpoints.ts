import { Checkpoints, checkpointsOf as domainCheckpoints } from '../checkpoint/service';
import type { RuntimeContext } from './context';

/** The checkpoint service of the CRI front end (src/runtime-service/checkpoint/service.ts). */
export function checkpointsOf(ctx: RuntimeContext): Checkpoints {
  return domainCheckpoints(ctx.peapod);
}

/** CRI field of a domain field of the checkpoint service. */
export function checkpointCriField(field: string): string | undefined {
  return ({ location: 'location', outputPath: 'output_path', containerIds: 'container_ids', checkpoint_path: 'checkpoint_path' } as Record<string, string>)[field];
}
