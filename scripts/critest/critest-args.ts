/**
 * The command line of critest v1.26.1 (flags checked against `critest
 * --help`: Go flags of cri-tools pkg/framework/test_context.go plus Ginkgo
 * v2's `--ginkgo.*`).
 */

/** What a run asks of critest. */
export interface CritestRun {
  /** peapod-cri's unix socket path. */
  socket: string;
  /** The `--test-images-file` YAML (critest.yaml at the repository root). */
  testImagesFile: string;
  /** Where Ginkgo writes its JSON report. */
  jsonReport: string;
  /** Ginkgo focus regular expressions (ORed). */
  focus?: readonly string[];
  /** Ginkgo skip regular expressions (ORed): the offline list's and the user's. */
  skip?: readonly string[];
  /** Ginkgo verbose output. */
  verbose?: boolean;
  /** Directory for critest's glog files (else it writes them to /tmp). */
  logDir: string;
  /** Benchmark mode: the params file and the output directory. */
  benchmark?: { paramsFile: string; outputDir: string };
}

/** The argument list for critest (without the program name). */
export function critestArgs(run: CritestRun): string[] {
  const args = [
    `--runtime-endpoint=unix://${run.socket}`,
    `--image-endpoint=unix://${run.socket}`,
    `--test-images-file=${run.testImagesFile}`,
    `--ginkgo.json-report=${run.jsonReport}`,
    '--ginkgo.no-color',
    `--log_dir=${run.logDir}`,
  ];
  if (run.verbose) args.push('--ginkgo.v');
  for (const f of run.focus ?? []) args.push(`--ginkgo.focus=${f}`);
  for (const s of run.skip ?? []) args.push(`--ginkgo.skip=${s}`);
  if (run.benchmark) {
    args.push('--benchmark', `--benchmarking-params-file=${run.benchmark.paramsFile}`, `--benchmarking-output-dir=${run.benchmark.outputDir}`);
  }
  return args;
}
