import { expect } from 'chai';
import { parseExperimentDurations, parseLifecycleResults } from '../../bench/critest';
import { upstreamMirrorToml } from '../../bench/containerd';
import { benchmarkParamsYaml } from '../../scripts/critest/benchmark-params';

describe("bench: critest's benchmark output", () => {
  it('reads a LifecycleBenchmarksResultsSet: per operation, each sample in ms', () => {
    const json = JSON.stringify({
      operationsNames: ['CreatePod', 'StatusPod', 'StopPod', 'RemovePod'],
      numParallel: 1,
      datapoints: [
        { sampleIndex: 0, startTime: 1, endTime: 2, operationsDurationsNs: [85_000_000, 1_600_000, 104_600_000, 12_000_000], metaInfo: {} },
        { sampleIndex: 1, startTime: 3, endTime: 4, operationsDurationsNs: [80_000_000, 1_500_000], metaInfo: {} },
      ],
    });
    expect(parseLifecycleResults(json)).to.deep.equal({ CreatePod: [85, 80], StatusPod: [1.6, 1.5], StopPod: [104.6], RemovePod: [12] });
    expect(() => parseLifecycleResults('{"datapoints": []}')).to.throw('not a critest benchmark results set');
  });

  it("reads a gmeasure experiment's durations from the Ginkgo report entries", () => {
    const experiment = { Name: 'start-container-benchmark', Measurements: [{ Name: 'create PodSandbox and container', Durations: [268_900_000] }, { Name: 'other', Durations: [1] }] };
    const report = [{ SpecReports: [{ ReportEntries: null }, { ReportEntries: [{ Name: 'x', Value: { AsJSON: 'not json' } }, { Name: 'start-container-benchmark', Value: { AsJSON: JSON.stringify(experiment) } }] }] }];
    expect(parseExperimentDurations(JSON.stringify(report), 'create PodSandbox and container')).to.deep.equal([268.9]);
    expect(parseExperimentDurations('[]', 'create PodSandbox and container')).to.deep.equal([]);
  });

  it('sizes the params file by the sample count', () => {
    const yaml = benchmarkParamsYaml(['a'], 10);
    expect(yaml).to.contain('containersNumber: 10\n').and.contain('podsNumber: 10\n').and.contain('imagesNumber: 10\n');
    expect(benchmarkParamsYaml(['a'])).to.contain('podsNumber: 5\n');
  });

  it("sends containerd's pulls of an upstream registry to the local one under its name (override_path)", () => {
    expect(upstreamMirrorToml('127.0.0.1:5000', 'registry.k8s.io')).to.contain('[host."http://127.0.0.1:5000/v2/registry.k8s.io"]').and.contain('override_path = true');
  });
});
