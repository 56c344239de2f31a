import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerEngine, ContainerEngineOptions, EngineImage } from '../../../src/runtime-service/container/engine';
import { buildBusyboxImage, createTestPod, tempDir, TestPod, testEngineOptions } from './busybox-pod';

/**
 * The fixture several integration tests share: in one temp directory, a
 * busybox image (buildBusyboxImage), a test pod of pinned namespaces
 * (createTestPod) and a ContainerEngine opened on them (testEngineOptions).
 */
export interface BusyboxEngine {
  /** The temp directory holding everything below. */
  dir: string;
  image: EngineImage;
  pod: TestPod;
  opts: ContainerEngineOptions;
  engine: ContainerEngine;
}

/**
 * Makes the fixture; what was made is undone when a step fails.
 * @param prefix the temp directory's name prefix, e.g. `peapod-attach-`
 * @param options.logDirectory the pod's log directory, relative to the temp directory (default `pods/log`)
 */
export async function openBusyboxEngine(prefix: string, options: { logDirectory?: string } = {}): Promise<BusyboxEngine> {
  const dir = tempDir(prefix);
  let pod: TestPod | undefined;
  try {
    const image = buildBusyboxImage(path.join(dir, 'image'));
    pod = createTestPod(path.join(dir, 'pod'), path.join(dir, options.logDirectory ?? path.join('pods', 'log')));
    const opts = testEngineOptions(dir);
    const engine = await ContainerEngine.open(opts);
    return { dir, image, pod, opts, engine };
  } catch (err) {
    pod?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Removes the fixture's containers (errors ignored), closes the engine, undoes the pod and deletes the temp directory. */
export async function closeBusyboxEngine(f: BusyboxEngine | undefined): Promise<void> {
  if (!f) return;
  for (const c of f.engine.list()) await f.engine.remove(c.id).catch(() => undefined);
  f.engine.close();
  f.pod.cleanup();
  fs.rmSync(f.dir, { recursive: true, force: true });
}
