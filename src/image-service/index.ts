import type { ImageServiceDefinition } from '../generated/runtime/v1/ImageService';
import type { UnaryImpls } from '../server/rpc';

/**
 * The CRI ImageService methods peapod implements, by RPC name. None yet:
 * every method answers UNIMPLEMENTED until the image store lands.
 */
export function imageServiceImpls(): UnaryImpls<ImageServiceDefinition> {
  return {};
}
