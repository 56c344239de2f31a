/**
 * The small benchmark configuration `npm run critest -- --benchmark` hands
 * to critest (`--benchmarking-params-file`, YAML keys of cri-tools
 * pkg/framework/test_context.go BenchmarkingParamsType).
 */
import { BENCHMARK_IMAGES } from './images';

/**
 * The YAML text: `samples` (default 5) containers, pods and images each, one at a time, 60 s
 * timeouts, the busybox stand-ins for image listing. One at a time because
 * with parallel samples gmeasure runs them in goroutines, where a failed
 * assertion is not recovered and critest v1.26.1 crashes without a report.
 */
export function benchmarkParamsYaml(images: readonly string[] = BENCHMARK_IMAGES, samples = 5): string {
  const lines = [
    '# Written by `npm run critest -- --benchmark`: small sizes.',
    `containersNumber: ${samples}`,
    'containersNumberParallel: 1',
    'containerBenchmarkTimeoutSeconds: 60',
    `podsNumber: ${samples}`,
    'podsNumberParallel: 1',
    'podBenchmarkTimeoutSeconds: 60',
    `imagesNumber: ${samples}`,
    'imagesNumberParallel: 1',
    'imageBenchmarkTimeoutSeconds: 60',
    'podContainerStartBenchmarkTimeoutSeconds: 60',
    `imagePullingBenchmarkImage: ${JSON.stringify(images[0])}`,
    'imageListingBenchmarkImages:',
    ...images.map((i) => `  - ${JSON.stringify(i)}`),
  ];
  return lines.join('\n') + '\n';
}
