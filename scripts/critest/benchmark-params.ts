/**
 * The small benchmark configuration `npm run critest -- --benchmark` hands
 * to critest (`--benchmarking-params-file`, YAML keys of cri-tools
 * pkg/framework/test_context.go BenchmarkingParamsType).
 */
import { BENCHMARK_IMAGES } from './images';

/** The YAML text: 5 containers, pods and images each, 2 in parallel, 60 s timeouts, the busybox stand-ins for image listing. */
export function benchmarkParamsYaml(images: readonly string[] = BENCHMARK_IMAGES): string {
  const lines = [
    '# Written by `npm run critest -- --benchmark`: small sizes.',
    'containersNumber: 5',
    'containersNumberParallel: 2',
    'containerBenchmarkTimeoutSeconds: 60',
    'podsNumber: 5',
    'podsNumberParallel: 2',
    'podBenchmarkTimeoutSeconds: 60',
    'imagesNumber: 5',
    'imagesNumberParallel: 2',
    'imageBenchmarkTimeoutSeconds: 60',
    'podContainerStartBenchmarkTimeoutSeconds: 60',
    `imagePullingBenchmarkImage: ${JSON.stringify(images[0])}`,
    'imageListingBenchmarkImages:',
    ...images.map((i) => `  - ${JSON.stringify(i)}`),
  ];
  return lines.join('\n') + '\n';
}
