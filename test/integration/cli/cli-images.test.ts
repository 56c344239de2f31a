import { expect } from 'chai';
import { BuiltImage, busyboxFiles, buildImage, pushImage } from '../../fixtures/image-builder';
import { startRegistry, TestRegistry } from '../harness/registry';
import { CliEnv, makeCliEnv } from './cli-harness';

describe('peapod CLI: images, tag, untag, rmi, image inspect, info', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let old: BuiltImage;
  let mid: BuiltImage;
  let fresh: BuiltImage;
  const ref = (repo: string, tag: string): string => `${registry.host}/${repo}:${tag}`;

  before(async () => {
    registry = await startRegistry();
    const layer = { files: [...busyboxFiles()] };
    old = await buildImage({ layers: [layer], config: { Cmd: ['sh'], Labels: { tier: 'old' } }, created: '2020-01-01T00:00:00Z' });
    mid = await buildImage({ layers: [layer, { files: [{ type: 'file', path: 'mid.txt', content: 'mid' }] }], config: { Cmd: ['sh'], Labels: { tier: 'mid' } }, created: '2022-01-01T00:00:00Z' });
    fresh = await buildImage({ layers: [layer, { files: [{ type: 'file', path: 'new.txt', content: 'new' }] }], config: { Cmd: ['sh'], User: '1000' }, created: new Date(Date.now() - 3 * 3600_000).toISOString() });
    await pushImage(registry.url, 'app/old', 'v1', old);
    await pushImage(registry.url, 'app/mid', 'v2', mid);
    await pushImage(registry.url, 'library/busybox', 'latest', fresh);
    env = makeCliEnv();
    for (const r of [ref('app/old', 'v1'), ref('app/mid', 'v2'), ref('library/busybox', 'latest')]) {
      const p = await env.run(['pull', '-q', r]);
      expect(p.code, p.stderr).to.equal(0);
    }
  });
  after(async () => {
    env?.cleanup();
    await registry?.stop();
  });

  const names = async (...args: string[]): Promise<string[]> => {
    const r = await env.run(['images', '--format', '{{.Repository}}:{{.Tag}}', ...args]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.trim().split('\n').filter(Boolean);
  };

  it('lists newest first in Podman columns; --digests, --no-trunc, -q, --noheading, --sort', async () => {
    const t = await env.run(['images']);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^REPOSITORY\s{2,}TAG\s{2,}IMAGE ID\s{2,}CREATED\s{2,}SIZE$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).to.deep.equal([
      [`${registry.host}/library/busybox`, 'latest', fresh.configDigest.slice(7, 19), '3 hours ago'],
      [`${registry.host}/app/mid`, 'v2', mid.configDigest.slice(7, 19), `${new Date().getUTCFullYear() - 2022 - (new Date().getUTCMonth() === 0 ? 1 : 0)} years ago`].slice(0, 3).concat([lines[2].split(/\s{2,}/)[3]]),
      [`${registry.host}/app/old`, 'v1', old.configDigest.slice(7, 19), lines[3].split(/\s{2,}/)[3]],
    ]);
    expect(lines[1]).to.match(/ [\d.]+ (kB|MB)$/);
    const d = await env.run(['images', '--digests', '--no-trunc']);
    expect(d.stdout.split('\n')[0]).to.match(/^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(d.stdout).to.contain(`${fresh.manifestDigest}  ${fresh.configDigest}`);
    expect((await env.run(['images', '-q'])).stdout).to.equal([fresh, mid, old].map((i) => i.configDigest.slice(7, 19) + '\n').join(''));
    expect((await env.run(['images', '-n'])).stdout.split('\n')[0]).to.contain('library/busybox');
    expect(await names('--sort', 'repository')).to.deep.equal([ref('app/mid', 'v2'), ref('app/old', 'v1'), ref('library/busybox', 'latest')]);
  });

  it('--format json (Podman field names), a Go template, and a table template', async () => {
    const j = JSON.parse((await env.run(['images', '--format', 'json'])).stdout) as Record<string, unknown>[];
    expect(j).to.have.length(3);
    expect(j[0]).to.include({ Id: fresh.configDigest.slice(7), Digest: fresh.manifestDigest, Containers: 0 });
    expect(j[0].Names).to.deep.equal([ref('library/busybox', 'latest')]);
    expect(j[2]).to.include({ Created: Date.parse('2020-01-01T00:00:00Z') / 1000, CreatedAt: '2020-01-01T00:00:00Z' });
    expect(j[2].Labels).to.deep.equal({ tier: 'old' });
    const tpl = await env.run(['images', '--format', '{{.ID}}\\t{{.CreatedAt}}', 'app/old']);
    expect(tpl.stdout).to.equal(`${old.configDigest.slice(7, 19)}\t2020-01-01 00:00:00 +0000 UTC\n`);
    const table = await env.run(['images', '--format', 'table {{.Repository}} {{.Tag}}', '--filter', 'reference=app/*']);
    const w = `${registry.host}/app/mid`.length + 2;
    expect(table.stdout).to.equal(`${'REPOSITORY'.padEnd(w)}TAG\n${`${registry.host}/app/mid`.padEnd(w)}v2\n${`${registry.host}/app/old`.padEnd(w)}v1\n`);
    const bad = await env.run(['images', '--format', '{{.Nope}}']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.equal("Error: --format: template: can't evaluate field Nope\n");
  });

  it('--filter reference, dangling, before, since, label, id (same key: any; different keys: all)', async () => {
    expect(await names('--filter', 'reference=busybox')).to.deep.equal([ref('library/busybox', 'latest')]);
    expect(await names('--filter', 'reference=*/app/*:v?')).to.deep.equal([ref('app/mid', 'v2'), ref('app/old', 'v1')]);
    expect(await names('--filter', 'reference=old', '--filter', 'reference=mid')).to.deep.equal([ref('app/mid', 'v2'), ref('app/old', 'v1')]);
    expect(await names('--filter', 'reference=app/*', '--filter', 'label=tier=old')).to.deep.equal([ref('app/old', 'v1')]);
    expect(await names('--filter', 'label!=tier')).to.deep.equal([ref('library/busybox', 'latest')]);
    expect(await names('--filter', `before=${ref('app/mid', 'v2')}`)).to.deep.equal([ref('app/old', 'v1')]);
    expect(await names('--filter', `since=${ref('app/mid', 'v2')}`)).to.deep.equal([ref('library/busybox', 'latest')]);
    expect(await names('--filter', `id=${old.configDigest.slice(7, 15)}`)).to.deep.equal([ref('app/old', 'v1')]);
    expect(await names('--filter', 'dangling=true')).to.deep.equal([]);
    const bad = await env.run(['images', '--filter', 'color=red']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.contain('unknown filter "color"');
    const unknown = await env.run(['images', '--filter', 'before=nope:1']);
    expect(unknown.code).to.equal(125);
    expect(unknown.stderr).to.contain('nope:1: image not known');
  });

  it('tag adds names (short names under localhost/), untag removes them, dangling images show as <none>', async () => {
    const id = old.configDigest.slice(7, 19);
    const tag = await env.run(['tag', id, 'myapp', 'myapp:prod', `${registry.host}/copy/old:x`]);
    expect(tag.code, tag.stderr).to.equal(0);
    expect(await names('--filter', `id=${id}`)).to.deep.equal([ref('app/old', 'v1'), ref('copy/old', 'x'), 'localhost/myapp:latest', 'localhost/myapp:prod']);
    // The listing shows every name of the image a reference matches, as Podman's.
    expect([...new Set((await env.run(['images', '--format', '{{.ID}}', 'myapp:prod'])).stdout.trim().split('\n'))]).to.deep.equal([id]);
    const missingTag = await env.run(['untag', id, 'nosuch:tag']);
    expect(missingTag.code).to.equal(125);
    expect(missingTag.stderr).to.equal('Error: localhost/nosuch:tag: tag not known\n');
    expect((await env.run(['untag', id, 'myapp:prod', 'myapp'])).code).to.equal(0);
    expect(await names('--filter', `id=${id}`)).to.deep.equal([ref('app/old', 'v1'), ref('copy/old', 'x')]);
    expect((await env.run(['untag', id])).code).to.equal(0);
    const rows = await env.run(['images', '--filter', 'dangling=true', '--format', '{{.Repository}} {{.Tag}} {{.ID}}']);
    expect(rows.stdout).to.equal(`<none> <none> ${id}\n`);
    expect((await env.run(['tag', 'nosuch', 'x'])).code).to.equal(125);
    expect((await env.run(['tag', id, ref('app/old', 'v1')])).code).to.equal(0);
  });

  it('image inspect shows Podman fields; --format templates; an unknown image exits 125', async () => {
    const r = await env.run(['image', 'inspect', ref('library/busybox', 'latest')]);
    expect(r.code, r.stderr).to.equal(0);
    const [v] = JSON.parse(r.stdout) as Record<string, any>[];
    expect(v.Id).to.equal(fresh.configDigest.slice(7));
    expect(v.Digest).to.equal(fresh.manifestDigest);
    expect(v.RepoTags).to.deep.equal([ref('library/busybox', 'latest')]);
    expect(v.RepoDigests).to.deep.equal([`${registry.host}/library/busybox@${fresh.manifestDigest}`]);
    expect(v.Config).to.deep.include({ Cmd: ['sh'], User: '1000' });
    expect(v).to.include({ Architecture: 'amd64', Os: 'linux', User: '1000', ManifestType: 'application/vnd.oci.image.manifest.v1+json' });
    expect(v.RootFS).to.deep.equal({ Type: 'layers', Layers: fresh.diffIds });
    expect(v.GraphDriver.Name).to.equal('overlay');
    expect(v.GraphDriver.Data.LowerDir.split(':')).to.have.length(2);
    const t = await env.run(['image', 'inspect', '-f', '{{.Id}} {{.Config.User}} {{len .RootFS.Layers}}', fresh.configDigest.slice(7, 16)]);
    expect(t.stdout).to.equal(`${fresh.configDigest.slice(7)} 1000 2\n`);
    const missing = await env.run(['image', 'inspect', 'nosuch']);
    expect(missing.code).to.equal(125);
    expect(missing.stderr).to.equal('Error: inspecting object: nosuch: image not known\n');
  });

  it('info reports the store paths, the image count and tool versions (YAML, json, template)', async () => {
    const y = await env.run(['info']);
    expect(y.code, y.stderr).to.equal(0);
    expect(y.stdout).to.contain(`  graphRoot: ${env.root}/storage\n`);
    expect(y.stdout).to.contain(`  runRoot: ${env.runroot}\n`);
    expect(y.stdout).to.match(/ociRuntime:\n    name: runc\n    path: \S+\n    version: \|-\n      runc version/);
    const j = JSON.parse((await env.run(['info', '--format', 'json'])).stdout);
    expect(j.store.imageStore.number).to.equal(3);
    expect(j.host.conmon.version).to.match(/conmon version/);
    expect((await env.run(['info', '-f', '{{.Store.GraphRoot}} {{.Store.ImageStore.Number}}'])).stdout).to.equal(`${env.root}/storage 3\n`);
  });

  it('rmi by tag untags an image with other names; by ID removes it with all names; exit 1 for unknown, -i ignores', async () => {
    const id = mid.configDigest.slice(7);
    await env.run(['tag', id, 'extra:1']);
    const untag = await env.run(['rmi', 'extra:1']);
    expect(untag.code).to.equal(0);
    expect(untag.stdout).to.equal('Untagged: localhost/extra:1\n');
    await env.run(['tag', id, 'extra:2']);
    const del = await env.run(['rmi', id.slice(0, 10)]);
    expect(del.code, del.stderr).to.equal(0);
    expect(del.stdout).to.equal(`Untagged: ${ref('app/mid', 'v2')}\nUntagged: localhost/extra:2\nDeleted: ${id}\n`);
    expect(await names()).to.not.include(ref('app/mid', 'v2'));
    const unknown = await env.run(['rmi', 'nosuch']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal('Error: nosuch: image not known\n');
    expect((await env.run(['rmi', '-i', 'nosuch'])).code).to.equal(0);
    const byDigest = await env.run(['rmi', `${registry.host}/app/old@${old.manifestDigest}`]);
    expect(byDigest.code, byDigest.stderr).to.equal(0);
    expect(byDigest.stdout).to.contain(`Deleted: ${old.configDigest.slice(7)}`);
    const all = await env.run(['rmi', '-a']);
    expect(all.code).to.equal(0);
    expect((await env.run(['images', '-q'])).stdout).to.equal('');
    expect((await env.run(['rmi'])).code).to.equal(125);
  });
});
