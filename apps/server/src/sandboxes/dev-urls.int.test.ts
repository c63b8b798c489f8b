import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { useSandboxServer } from '../../../../test/support/server.js';

const run = promisify(execFile);
const devServer = readFileSync(new URL('../../../../test/fixtures/dev-server.pl', import.meta.url), 'utf8');

/** curl, the real client: it resolves *.localhost to loopback by itself, as browsers do. */
async function curl(args: string[]): Promise<{ status: number; body: string; headers: string }> {
  const headerFile = join(tmpdir(), `runtools-curl-${randomBytes(6).toString('hex')}`);
  try {
    const { stdout } = await run('curl', ['-s', '-D', headerFile, '-w', '\n%{http_code}', ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = stdout.split('\n');
    return { status: Number(lines.pop()), body: lines.join('\n'), headers: readFileSync(headerFile, 'utf8') };
  } finally {
    rmSync(headerFile, { force: true });
  }
}

describe('dev URLs', () => {
  const fixture = useSandboxServer();

  async function serving(runtime: 'gvisor' | 'container', port: number, options: { autoResume?: boolean } = {}) {
    const box = await fixture.rt.sandboxes.create({ runtime, ...options });
    fixture.track(box);
    await box.files.write('/root/server.pl', devServer);
    await box.exec(`perl /root/server.pl ${port}`, { background: true });
    return box;
  }

  it.each(['gvisor', 'container'] as const)(
    'reaches a %s sandbox port: private with a key or a signed link, public when made so, revocable',
    async (runtime) => {
      const box = await serving(runtime, 8080);
      const serverPort = new URL(fixture.server.url).port;
      const url = await box.getUrl({ port: 8080 });
      expect(url).toMatchObject({
        port: 8080,
        public: false,
        url: `http://8080-${box.id}.sandboxes.localhost:${serverPort}`,
      });
      expect(url.signedUrl).toMatch(/\/\?rt_token=[\w-]+\.[\w-]+$/);

      const anonymous = await curl([`${url.url}/hi`]);
      expect([anonymous.status, JSON.parse(anonymous.body).error.code]).toEqual([401, 'unauthenticated']);
      // With a key: the app gets the request, not the key; the Host it sees is the dev URL's.
      const keyed = await curl(['-H', `x-api-key: ${fixture.server.adminKey}`, `${url.url}/hi?x=1`]);
      expect(keyed).toMatchObject({ status: 200, body: 'hello from 8080 /hi?x=1' });
      expect(keyed.headers).toMatch(new RegExp(`x-seen-host: 8080-${box.id}\\.sandboxes\\.localhost:${serverPort}`));

      // A signed link: the token moves into a cookie and out of the URL; the app never sees either.
      const jar = join(tmpdir(), `runtools-jar-${box.id}`);
      onTestFinished(() => rmSync(jar, { force: true }));
      const linked = await curl(['-L', '-c', jar, '-b', jar, url.signedUrl as string]);
      expect(linked).toMatchObject({ status: 200, body: 'hello from 8080 /' });
      const withCookie = await curl(['-b', jar, `${url.url}/again`]);
      expect(withCookie).toMatchObject({ status: 200, body: 'hello from 8080 /again' });

      // A large body streams through, and back.
      const posted = await curl([
        '-H',
        `x-api-key: ${fixture.server.adminKey}`,
        '--data-binary',
        `@${process.execPath}`,
        `${url.url}/upload`,
      ]);
      expect(posted.body).toBe(`got ${readFileSync(process.execPath).length} bytes`);

      // Revoked: the link and its cookie stop working; the key still does.
      await box.revokeUrl(8080);
      expect((await curl(['-b', jar, `${url.url}/again`])).status).toBe(401);
      expect((await curl([url.signedUrl as string])).status).toBe(401);

      const open = await box.getUrl({ port: 8080, public: true });
      expect(open).toMatchObject({ public: true, signedUrl: null });
      expect((await curl([`${url.url}/open`])).body).toBe('hello from 8080 /open');
      expect((await box.getUrls()).map((item) => [item.port, item.public])).toEqual([[8080, true]]);
    },
  );

  it('serves a custom subdomain, unique across the platform and released on destroy', async () => {
    const box = await serving('container', 8081);
    const name = `app-${Date.now()}`;
    const named = await box.getUrl({ port: 8081, subdomain: name, public: true });
    expect(named).toMatchObject({
      subdomain: name,
      url: `http://${name}.sandboxes.localhost:${new URL(fixture.server.url).port}`,
    });
    expect((await curl([`${named.url}/named`])).body).toBe('hello from 8081 /named');
    const other = await serving('container', 8082);
    await expect(other.getUrl({ port: 8082, subdomain: name })).rejects.toMatchObject({ code: 'subdomain_taken' });
    await expect(other.getUrl({ port: 8082, subdomain: 'Bad_Label' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await box.destroy();
    expect((await curl([`${named.url}/named`])).status).toBe(404);
    expect((await other.getUrl({ port: 8082, subdomain: name, public: true })).subdomain).toBe(name);
    expect((await curl([`${named.url}/taken-over`])).body).toBe('hello from 8082 /taken-over');
  });

  it('streams server-sent events and relays WebSockets', async () => {
    const box = await serving('container', 9090);
    const { url } = await box.getUrl({ port: 9090, public: true });
    const started = Date.now();
    const events: number[] = [];
    const sse = await new Promise<string>((resolve, reject) => {
      const child = execFile('curl', ['-sN', `${url}/sse`]);
      let text = '';
      child.stdout?.on('data', (chunk) => {
        text += chunk;
        events.push(Date.now() - started);
      });
      child.on('close', () => resolve(text));
      child.on('error', reject);
    });
    expect(sse).toBe('data: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n');
    // Each event arrived as it was sent, not all at the end.
    expect(events.length).toBeGreaterThan(1);

    const target = new URL(url);
    const socket = new WebSocket(`ws://127.0.0.1:${target.port}/ws`, { headers: { host: target.host } });
    const replies: string[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('open', () => socket.send('one'));
      socket.on('message', (data) => {
        replies.push(data.toString());
        if (replies.length === 1) socket.send('two');
        else socket.close();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    expect(replies).toEqual(['echo: one', 'echo: two']);

    // A sandbox destroyed under an open WebSocket closes it.
    const open = new WebSocket(`ws://127.0.0.1:${target.port}/ws`, { headers: { host: target.host } });
    await new Promise<void>((resolve, reject) => {
      open.on('open', () => resolve());
      open.on('error', reject);
    });
    const closed = new Promise<void>((resolve) => open.on('close', () => resolve()));
    await box.destroy();
    await closed;
  });

  it('opens a private port only to a key that may act in the sandbox (sandboxes:write), not to a read-only one', async () => {
    const box = await serving('container', 7100);
    const url = `http://7100-${box.id}.sandboxes.localhost:${new URL(fixture.server.url).port}/write`;
    const keyWith = async (scopes: string[]) =>
      (await fixture.rt.auth.keys.create({ name: scopes.join(' '), scopes })).key;
    const reader = await curl(['-H', `x-api-key: ${await keyWith(['sandboxes:read'])}`, '--data', 'x', url]);
    expect([reader.status, JSON.parse(reader.body).error.code]).toEqual([403, 'insufficient_scope']);
    const writer = await curl(['-H', `x-api-key: ${await keyWith(['sandboxes:write'])}`, url]);
    expect(writer).toMatchObject({ status: 200, body: 'hello from 7100 /write' });
    // A read-only key cannot ask for a signed link either (that is sandboxes:write), so it has no way in.
    const link = await fixture.server.request('POST', `/v1/sandboxes/${box.id}/urls`, {
      key: await keyWith(['sandboxes:read']),
      body: { port: 7100 },
    });
    expect(link.status).toBe(403);
  });

  it('says when nothing listens, refuses bad hosts and other orgs, and resumes a paused sandbox', async () => {
    const box = await serving('container', 7000, { autoResume: true });
    const serverPort = new URL(fixture.server.url).port;
    const key = ['-H', `x-api-key: ${fixture.server.adminKey}`];
    const quiet = await curl([...key, `http://7001-${box.id}.sandboxes.localhost:${serverPort}/`]);
    expect([quiet.status, JSON.parse(quiet.body).error.code]).toEqual([502, 'port_not_listening']);
    const page = await curl([
      ...key,
      '-H',
      'accept: text/html',
      `http://7001-${box.id}.sandboxes.localhost:${serverPort}/`,
    ]);
    expect(page.body).toMatch(/<h1>502 port_not_listening<\/h1>/);

    for (const host of [
      `0-${box.id}`,
      `70000-${box.id}`,
      `7000-${box.id}x`,
      `x.7000-${box.id}`,
      `7000-sbx_aaaaaaaaaaaaaaaaaaaa`,
    ]) {
      const answer = await curl([...key, `http://${host}.sandboxes.localhost:${serverPort}/`]);
      expect(answer.status, host).toBe(404);
    }
    // A sandbox-picking header on another host does nothing: the API answers as usual.
    expect((await curl(['-H', `host: 7000-${box.id}.example.com`, `${fixture.server.url}/v1/health`])).status).toBe(
      200,
    );

    const other = (await (await fixture.server.request('POST', '/v1/orgs', { body: { name: 'Other' } })).json()) as {
      apiKey: { key: string };
    };
    const otherKey = other.apiKey.key;
    const foreign = await curl([
      '-H',
      `x-api-key: ${otherKey}`,
      `http://7000-${box.id}.sandboxes.localhost:${serverPort}/`,
    ]);
    expect(foreign.status).toBe(404);

    await box.pause();
    const woken = await curl([...key, `http://7000-${box.id}.sandboxes.localhost:${serverPort}/back`]);
    expect(woken).toMatchObject({ status: 200, body: 'hello from 7000 /back' });
    expect((await box.refresh()).status).toBe('running');

    await box.destroy();
    const gone = await curl([...key, `http://7000-${box.id}.sandboxes.localhost:${serverPort}/`]);
    expect(gone.status).toBe(409);
  });

  it('pauses a gVisor sandbox to disk with tunnels pooled, and the next request resumes it on a new one', async () => {
    const box = await serving('gvisor', 7100, { autoResume: true });
    const serverPort = new URL(fixture.server.url).port;
    const key = ['-H', `x-api-key: ${fixture.server.adminKey}`];
    const address = `http://7100-${box.id}.sandboxes.localhost:${serverPort}`;
    await expect.poll(async () => (await curl([...key, `${address}/one`])).body).toBe('hello from 7100 /one');
    // The pooled tunnel is a host socket connection: the checkpoint fails unless the pause closes it.
    await box.pause();
    expect((await box.refresh()).status).toBe('paused');
    expect(await curl([...key, `${address}/two`])).toMatchObject({ status: 200, body: 'hello from 7100 /two' });
    expect((await box.refresh()).status).toBe('running');
  });
});
