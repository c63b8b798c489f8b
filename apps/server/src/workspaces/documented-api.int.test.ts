import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NotFoundError, RunTools } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useSandboxServer } from '../../../../test/support/server.js';

const run = promisify(execFile);
const readmePath = new URL('../../../../README.md', import.meta.url).pathname;

/** The README's workspace lines, verbatim (the test checks that the README still has each). */
const documented = {
  create: `curl -X POST "$URL/v1/workspaces" -H "X-API-Key: $KEY" -H "Content-Type: application/json" -d '{"name": "Docs Project", "slug": "docs-project"}'`,
  upload: `curl -X POST "$URL/v1/workspaces/$WS/upload/src" -H "X-API-Key: $KEY" -F "file=@./README.md"   # upload into /src`,
  list: `curl "$URL/v1/workspaces/$WS/files/src?showHidden=false" -H "X-API-Key: $KEY"          # list the directory /src`,
  download: `curl "$URL/v1/workspaces/$WS/direct?id=/src/README.md&download=true" -H "X-API-Key: $KEY"      # the bytes (attachment)`,
};

interface Answer {
  status: number;
  body: string;
}

const errorCode = (answer: Answer) => (JSON.parse(answer.body) as { error?: { code: string } }).error?.code;

describe('the documented workspace API, and workspaces by slug', () => {
  const fixture = useSandboxServer();
  /** The working directory of the curl lines: a copy of the README, and a .curlrc that records headers. */
  let dir: string;
  let readme: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'runtools-documented-'));
    copyFileSync(readmePath, join(dir, 'README.md'));
    readme = readFileSync(readmePath);
    // Read by curl from $CURL_HOME: each documented line runs as written and its answer's headers land here.
    writeFileSync(join(dir, '.curlrc'), `dump-header = "${join(dir, 'headers')}"\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs a documented line with bash, as a reader would, with URL, KEY and WS set. */
  async function documentedLine(line: string, workspace: string) {
    rmSync(join(dir, 'headers'), { force: true });
    const { stdout } = await run('bash', ['-c', line], {
      cwd: dir,
      encoding: 'buffer',
      env: {
        PATH: process.env.PATH ?? '',
        CURL_HOME: dir,
        URL: fixture.server.url,
        KEY: fixture.server.adminKey,
        WS: workspace,
      },
    });
    const headers = readFileSync(join(dir, 'headers'), 'utf8');
    return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1]), headers, stdout };
  }

  /** curl with the path sent exactly as given (no `..` squashing on the client), with the admin key. */
  async function curl(path: string, options: { key?: string; args?: string[] } = {}): Promise<Answer> {
    const { stdout } = await run(
      'curl',
      [
        '-q',
        '-s',
        '--path-as-is',
        '-H',
        `X-API-Key: ${options.key ?? fixture.server.adminKey}`,
        '-w',
        '\n%{http_code}',
        ...(options.args ?? []),
        `${fixture.server.url}${path}`,
      ],
      { cwd: dir },
    );
    const end = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(end + 1)), body: stdout.slice(0, end) };
  }

  it('answers the documented curl lines verbatim: create, upload into /src, list /src, download as an attachment', async () => {
    const text = readFileSync(readmePath, 'utf8');
    for (const line of Object.values(documented)) expect(text).toContain(line);

    const created = await documentedLine(documented.create, 'docs-project');
    expect(created.status).toBe(201);
    const workspace = JSON.parse(created.stdout.toString()) as { id: string; slug: string; name: string };
    expect(workspace).toMatchObject({ name: 'Docs Project', slug: 'docs-project' });
    expect(workspace.id).toMatch(/^wsp_[a-z2-7]{20}$/);

    const uploaded = await documentedLine(documented.upload, 'docs-project');
    expect(uploaded.status).toBe(200);
    expect(JSON.parse(uploaded.stdout.toString())).toMatchObject({
      data: [{ path: '/src/README.md', type: 'file', size: readme.length }],
    });

    const listed = await documentedLine(documented.list, 'docs-project');
    expect(listed.status).toBe(200);
    const listing = JSON.parse(listed.stdout.toString()) as { data: { path: string; type: string }[] };
    expect(listing.data.map((entry) => `${entry.type} ${entry.path}`)).toEqual(['file /src/README.md']);

    const downloaded = await documentedLine(documented.download, 'docs-project');
    expect(downloaded.status).toBe(200);
    expect(downloaded.stdout.equals(readme)).toBe(true);
    expect(downloaded.headers).toMatch(/^content-disposition: attachment; filename\*=UTF-8''README\.md\r$/im);

    // $WS may as well be the id.
    const byId = await documentedLine(documented.download, workspace.id);
    expect([byId.status, byId.stdout.equals(readme)]).toEqual([200, true]);

    // The slug is taken now: the same line again is a conflict with a code, and makes nothing.
    const again = await documentedLine(documented.create, 'docs-project');
    expect([again.status, errorCode({ status: again.status, body: again.stdout.toString() })]).toEqual([
      409,
      'workspace_exists',
    ]);
    expect((await fixture.rt.workspaces.list()).filter((item) => item.slug === 'docs-project')).toHaveLength(1);
  });

  it('takes the slug on every workspace route, and keeps the ?path= routes as they are', async () => {
    const workspace = await fixture.rt.workspaces.create({ name: 'By Slug' });
    expect(workspace.slug).toBe('by-slug');
    const rt = fixture.rt.workspaces;
    expect((await rt.get('by-slug')).id).toBe(workspace.id);
    expect((await rt.rename('by-slug', 'Renamed')).name).toBe('Renamed');
    const files = rt.files('by-slug');
    await files.upload('/notes/a.txt', 'A');
    await files.uploadMany('/notes', [{ name: 'b.txt', data: 'BB' }]);
    await files.mkdir('/empty');
    await files.copy('/notes/a.txt', '/notes/c.txt');
    await files.move('/notes/c.txt', '/notes/d.txt');
    await files.rename('/notes/d.txt', 'e.txt');
    await files.remove('/notes/e.txt');
    expect(await files.info('/notes/b.txt')).toMatchObject({ size: 2 });
    expect(await files.read('/notes/a.txt')).toBe('A');
    expect((await files.list('/notes')).map((entry) => entry.name)).toEqual(['a.txt', 'b.txt']);
    expect(await rt.usage('by-slug')).toEqual({ bytes: 3, files: 2, directories: 2 });

    // The documented forms beside them: the root is /files, and /upload with no path uploads into it.
    expect(JSON.parse((await curl('/v1/workspaces/by-slug/files')).body)).toMatchObject({
      data: [{ path: '/empty' }, { path: '/notes' }],
    });
    const intoRoot = await curl('/v1/workspaces/by-slug/upload', {
      args: ['-F', 'file=@./README.md;filename=top.md'],
    });
    expect([intoRoot.status, JSON.parse(intoRoot.body).data[0].path]).toEqual([200, '/top.md']);
    const deep = await curl('/v1/workspaces/by-slug/upload/x/y%20z', { args: ['-F', 'file=@./README.md'] });
    expect([deep.status, JSON.parse(deep.body).data[0].path]).toEqual([200, '/x/y z/README.md']);
    expect(JSON.parse((await curl('/v1/workspaces/by-slug/files/x/y%20z?showHidden=true')).body)).toMatchObject({
      data: [{ path: '/x/y z/README.md', size: readme.length }],
    });
    const inline = await curl('/v1/workspaces/by-slug/direct?id=/notes/b.txt');
    expect([inline.status, inline.body]).toEqual([200, 'BB']);
    // /files/info and /files/content stay the ?path= routes they were.
    const info = await curl('/v1/workspaces/by-slug/files/info?path=/notes/a.txt');
    expect([info.status, JSON.parse(info.body).path]).toEqual([200, '/notes/a.txt']);
    const content = await curl('/v1/workspaces/by-slug/files/content?path=/notes/a.txt');
    expect([content.status, content.body]).toEqual([200, 'A']);

    await rt.delete('by-slug');
    await expect(rt.get(workspace.id)).rejects.toBeInstanceOf(NotFoundError);
    const gone = await curl('/v1/workspaces/by-slug/files/notes');
    expect([gone.status, errorCode(gone)]).toEqual([404, 'workspace_not_found']);
  });

  it('mounts a workspace by slug: the sandbox records its id and sees its files; deleting it by slug is refused while mounted', async () => {
    const workspace = await fixture.rt.workspaces.create({ name: 'Mounted', slug: 'my-project' });
    await fixture.rt.workspaces.files('my-project').upload('/src/README.md', readme);
    const response = await fixture.server.request('POST', '/v1/sandboxes', {
      body: { runtime: 'container', mounts: [{ workspaceId: 'my-project', path: '/workspace' }] },
    });
    expect(response.status).toBe(201);
    const created = (await response.json()) as { id: string; mounts: unknown };
    const box = fixture.track(await fixture.rt.sandboxes.get(created.id));
    expect(created.mounts).toEqual([{ workspaceId: workspace.id, path: '/workspace' }]);
    const seen = await box.exec('sha256sum < /workspace/src/README.md');
    expect(seen.stdout).toBe(`${createHash('sha256').update(readme).digest('hex')}  -\n`);

    await expect(fixture.rt.workspaces.delete('my-project')).rejects.toMatchObject({ code: 'workspace_in_use' });

    // A symlink the sandbox plants is never followed by the documented routes either.
    await box.exec('ln -s / /workspace/root && ln -s /etc/hostname /workspace/host-name');
    for (const path of [
      '/v1/workspaces/my-project/files/root',
      '/v1/workspaces/my-project/files/root/etc',
      '/v1/workspaces/my-project/direct?id=/host-name',
      '/v1/workspaces/my-project/direct?id=/root/etc/hostname',
    ]) {
      const answer = await curl(path);
      expect([path, answer.status, errorCode(answer)]).toEqual([path, 400, 'validation_failed']);
    }
    const name = `planted-${randomBytes(6).toString('hex')}.md`;
    const planted = await curl('/v1/workspaces/my-project/upload/root/tmp', {
      args: ['-F', `file=@./README.md;filename=${name}`],
    });
    expect([planted.status, errorCode(planted)]).toEqual([400, 'validation_failed']);
    // Neither the host's /tmp (where following the link on the host would lead) nor the sandbox's has it.
    expect(existsSync(join('/tmp', name))).toBe(false);
    expect((await box.exec(`test -e /tmp/${name}`)).exitCode).toBe(1);

    await box.destroy();
    await fixture.rt.workspaces.delete('my-project');
    await expect(fixture.rt.workspaces.get(workspace.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses .. and encoded %2e%2e in the path routes: nothing outside the workspace is read or written', async () => {
    const inner = await fixture.rt.workspaces.create({ name: 'Inner' });
    const neighbour = await fixture.rt.workspaces.create({ name: 'Neighbour' });
    await fixture.rt.workspaces.files('neighbour').upload('/secret.txt', 'neighbour-secret');
    await fixture.rt.workspaces.files('inner').mkdir('/src');
    const attempts: [string, number, string][] = [
      // Dot segments in the URL are resolved before routing (RFC 3986), encoded or not: what is left names
      // another route, or none.
      ['/v1/workspaces/inner/files/src/../../../../etc/passwd', 404, 'route_not_found'],
      ['/v1/workspaces/inner/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd', 404, 'route_not_found'],
      [`/v1/workspaces/inner/files/../../../${neighbour.id}/files`, 404, 'route_not_found'],
      ['/v1/workspaces/inner/direct/../../../etc/passwd', 404, 'route_not_found'],
      // Inside one segment (an encoded slash) they reach the workspace's path check.
      [`/v1/workspaces/inner/files/..%2F${neighbour.id}`, 400, 'validation_failed'],
      [`/v1/workspaces/inner/files/%2e%2e%2f${neighbour.id}`, 400, 'validation_failed'],
      [`/v1/workspaces/inner/files/src%2F%2E%2E%2F%2E%2E%2F${neighbour.id}`, 400, 'validation_failed'],
      [`/v1/workspaces/inner/files/src/..%2F..%2F${neighbour.id}`, 400, 'validation_failed'],
      [`/v1/workspaces/inner/direct?id=/../${neighbour.id}/secret.txt`, 400, 'validation_failed'],
      [`/v1/workspaces/inner/direct?id=/%2e%2e/${neighbour.id}/secret.txt`, 400, 'validation_failed'],
      [`/v1/workspaces/inner/direct?id=/src/%2E%2E/%2E%2E/${neighbour.id}/secret.txt`, 400, 'validation_failed'],
      ['/v1/workspaces/inner/files/nul%00byte', 400, 'validation_failed'],
    ];
    for (const [path, status, code] of attempts) {
      const answer = await curl(path);
      expect([path, answer.status, errorCode(answer)]).toEqual([path, status, code]);
      // No file's bytes and no listing: an error names the path it refused, nothing more.
      expect(answer.body).not.toContain('neighbour-secret');
      expect(answer.body).not.toContain('"data"');
    }
    for (const path of [
      `/v1/workspaces/inner/upload/..%2F${neighbour.id}`,
      `/v1/workspaces/inner/upload/%2e%2e%2F${neighbour.id}`,
      `/v1/workspaces/inner/upload/src%2F..%2F..%2F${neighbour.id}`,
    ]) {
      const answer = await curl(path, { args: ['-F', 'file=@./README.md;filename=secret.txt'] });
      expect([path, answer.status, errorCode(answer)]).toEqual([path, 400, 'validation_failed']);
    }
    const uploadDots = await curl('/v1/workspaces/inner/upload/src/../../../../x', {
      args: ['-F', 'file=@./README.md'],
    });
    expect([uploadDots.status, errorCode(uploadDots)]).toEqual([404, 'route_not_found']);
    // The neighbour is as it was, and the inner workspace holds only what it held.
    expect(await fixture.rt.workspaces.files(neighbour.id).read('/secret.txt')).toBe('neighbour-secret');
    expect((await fixture.rt.workspaces.files(neighbour.id).list('/')).map((entry) => entry.name)).toEqual([
      'secret.txt',
    ]);
    expect((await fixture.rt.workspaces.files(inner.id).list('/', { showHidden: true })).map((e) => e.name)).toEqual([
      'src',
    ]);
  });

  it("treats another org's slug as unknown (404), and lets each org have the same slug", async () => {
    const other = await fixture.rt.orgs.create({ name: 'Slug Outsiders' });
    const outsider = new RunTools({ apiKey: other.apiKey.key, baseUrl: fixture.server.url });
    const theirs = await outsider.workspaces.create({ name: 'Their Private' });
    await outsider.workspaces.files('their-private').upload('/plans.txt', 'their-plans');
    const mine = await fixture.rt.workspaces.create({ name: 'Shared Name' });
    const theirsToo = await outsider.workspaces.create({ name: 'Shared Name' });
    expect(theirsToo.slug).toBe(mine.slug);
    expect(theirsToo.id).not.toBe(mine.id);
    // Each org's slug names its own.
    expect((await fixture.rt.workspaces.get('shared-name')).id).toBe(mine.id);
    expect((await outsider.workspaces.get('shared-name')).id).toBe(theirsToo.id);

    for (const path of [
      '/v1/workspaces/their-private',
      '/v1/workspaces/their-private/usage',
      '/v1/workspaces/their-private/files',
      '/v1/workspaces/their-private/files/notes',
      '/v1/workspaces/their-private/direct?id=/plans.txt',
      '/v1/workspaces/their-private/files/content?path=/plans.txt',
    ]) {
      const answer = await curl(path);
      expect([path, answer.status, errorCode(answer)]).toEqual([path, 404, 'workspace_not_found']);
      expect(answer.body).not.toContain('their-plans');
    }
    const upload = await curl('/v1/workspaces/their-private/upload/in', { args: ['-F', 'file=@./README.md'] });
    expect([upload.status, errorCode(upload)]).toEqual([404, 'workspace_not_found']);
    await expect(fixture.rt.workspaces.delete('their-private')).rejects.toMatchObject({ code: 'workspace_not_found' });
    await expect(
      fixture.rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: 'their-private' }] }),
    ).rejects.toMatchObject({ code: 'workspace_not_found' });
    expect((await outsider.workspaces.files(theirs.id).list('/')).map((entry) => entry.name)).toEqual(['plans.txt']);
    expect((await outsider.workspaces.get('their-private')).name).toBe('Their Private');
  });

  it('never takes a slug for an id: an id-shaped slug is refused, a wsp-… slug stays a slug', async () => {
    const idShaped = `wsp_${'a'.repeat(20)}`;
    for (const slug of [idShaped, 'WSP-LOUD', 'under_score']) {
      const answer = await fixture.server.request('POST', '/v1/workspaces', { body: { name: 'Shaped', slug } });
      const body = (await answer.json()) as { error?: { code: string; details?: { issues?: { path: string }[] } } };
      expect([slug, answer.status, body.error?.code, body.error?.details?.issues?.[0]?.path]).toEqual([
        slug,
        400,
        'validation_failed',
        'slug',
      ]);
    }
    // A name that looks like an id makes a slug that does not: the underscore becomes a dash.
    const derived = await fixture.rt.workspaces.create({ name: idShaped });
    expect(derived.slug).toBe(`wsp-${'a'.repeat(20)}`);
    expect((await fixture.rt.workspaces.get(derived.slug)).id).toBe(derived.id);
    // An id that names nothing is looked up as an id and not found, never as a slug.
    const absent = await curl(`/v1/workspaces/${idShaped}`);
    expect([absent.status, errorCode(absent)]).toEqual([404, 'workspace_not_found']);
    // Neither id nor slug: refused as a path parameter before anything is looked up.
    for (const ref of ['Docs-Project', 'has_underscore', 'a--b', `${'x'.repeat(64)}`]) {
      const answer = await curl(`/v1/workspaces/${ref}/files`);
      expect([ref, answer.status, errorCode(answer)]).toEqual([ref, 400, 'validation_failed']);
    }
  });
});
