import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Sandbox, Workspace } from '@runtools/sdk';
import ssh2 from 'ssh2';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useSandboxServer } from '../support/server.js';
import { ed25519KeyPair } from '../support/ssh-keys.js';

const devServer = readFileSync(new URL('../fixtures/dev-server.pl', import.meta.url), 'utf8');

/**
 * Writes bytes to a TCP port, half-closes (unless the first write is an HTTP request the server should answer
 * and close: `Connection: close`), and collects whatever comes back until the server closes.
 */
function exchange(port: number, ...writes: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => {
      for (const data of writes) socket.write(data);
      // An HTTP server aborts a request whose client half-closed before the answer.
      if (!/^[^\r]*\r\n(?:[^\r]+\r\n)*Connection: close\r\n/i.test(String(writes[0]))) socket.end();
    });
  });
}

/** A WebSocket frame as a client sends it (masked), of any declared length. */
function clientFrame(opcode: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const mask = randomBytes(4);
  const header =
    declaredLength < 126
      ? Buffer.from([0x80 | opcode, 0x80 | declaredLength])
      : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLength(declaredLength)]);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)));
  return Buffer.concat([header, mask, masked]);
}

function bigLength(length: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(length));
  return buffer;
}

const websocketHeaders = (host: string, extra = '') =>
  `Host: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

describe('hostile input on every socket, stream and body: the server answers and keeps serving', () => {
  // A per-sandbox ceiling lower than any host's (memory: the host's own, which 900TB is beyond).
  const fixture = useSandboxServer({ RUNTOOLS_MAX_SANDBOX_VCPUS: '2' });
  let box: Sandbox;
  let workspace: Workspace;
  let port: number;

  /** The server is alive and answering its API. */
  async function stillServing() {
    const health = await fixture.server.request('GET', '/v1/health');
    expect(health.status).toBe(200);
  }

  const api = (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${fixture.server.url}${path}`, {
      method,
      headers: { 'x-api-key': fixture.server.adminKey, ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });

  const upload = (path: string, body: string, contentType = 'multipart/form-data; boundary=x') =>
    api('POST', `/v1/workspaces/${workspace.id}/files/upload?path=${encodeURIComponent(path)}`, {
      body,
      headers: { 'content-type': contentType },
    });

  const part = (name: string, data: string) =>
    `--x\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n${data}\r\n`;

  beforeAll(async () => {
    port = Number(new URL(fixture.server.url).port);
    workspace = await fixture.rt.workspaces.create({ name: 'hostile' });
    box = fixture.track(
      await fixture.rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: workspace.id }] }),
    );
  }, 15 * 60_000);

  describe('multipart uploads', () => {
    it('answers a form cut off in the middle of a file with 400, and keeps serving', async () => {
      const response = await upload(
        '/',
        '--x\r\nContent-Disposition: form-data; name="file"; filename="u.txt"\r\nContent-Type: text/plain\r\n\r\nH',
      );
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
      await stillServing();
      // Nothing half-written is left behind.
      expect(
        (await fixture.rt.workspaces.files(workspace.id).list('/', { showHidden: true })).map((e) => e.name),
      ).not.toContain('u.txt');
    });

    it('answers a form cut off in its part headers with 400', async () => {
      const response = await upload('/', '--x\r\nContent-Disposition: form-data; name="file"; filen');
      expect(response.status).toBe(400);
      await stillServing();
    });

    it('answers multipart without a boundary with 400', async () => {
      for (const type of [
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'multipart/form-data; charset=utf-8',
      ]) {
        const response = await upload('/', part('a.txt', 'A'), type);
        expect([type, response.status]).toEqual([type, 400]);
      }
      await stillServing();
    });

    it('answers 400 when the target directory is a file or a symlink, or a file name is an existing symlink', async () => {
      const files = fixture.rt.workspaces.files(workspace.id);
      await files.upload('/plain.txt', 'plain');
      await files.mkdir('/real-dir');
      // As a tenant would: links made from inside a sandbox that mounts the workspace.
      await box.exec(
        'ln -s /etc /workspace/out-link && ln -s real-dir /workspace/in-link && ln -s /etc/hostname /workspace/real-dir/name-link',
      );
      for (const [path, name] of [
        ['/plain.txt', 'a.txt'],
        ['/plain.txt/deeper', 'a.txt'],
        ['/out-link', 'a.txt'],
        ['/in-link', 'a.txt'],
        ['/real-dir', 'name-link'],
      ] as const) {
        const response = await upload(path, `${part(name, 'x'.repeat(200_000))}--x--\r\n`);
        expect([path, name, response.status]).toEqual([path, name, 400]);
      }
      // A form whose second part is refused still answers (the rest of the form is read, not left hanging).
      const mixed = await upload(
        '/real-dir',
        `${part('fine.txt', 'ok')}${part('name-link', 'y')}${part('after.txt', 'z')}--x--\r\n`,
      );
      expect(mixed.status).toBe(400);
      expect((await box.exec('cat /etc/hostname')).stdout).not.toBe('y');
      const ok = await upload('/real-dir', `${part('fine.txt', 'ok')}--x--\r\n`);
      expect(ok.status).toBe(200);
      await stillServing();
    });

    it('accepts the same file name twice in one form (the last one wins) without a 5xx', async () => {
      const response = await upload('/', `${part('twice.txt', 'one')}${part('twice.txt', 'two')}--x--\r\n`);
      expect(response.status).toBe(200);
      expect(await fixture.rt.workspaces.files(workspace.id).read('/twice.txt')).toMatch(/^(one|two)$/);
    });
  });

  describe('bodies the client abandons half way', () => {
    it('keeps serving when an upload, a form or a JSON body stops mid-way and its connection is reset', async () => {
      const key = `x-api-key: ${fixture.server.adminKey}\r\n`;
      for (const [path, type] of [
        [`/v1/workspaces/${workspace.id}/files/content?path=/cut.bin`, 'application/octet-stream'],
        [`/v1/workspaces/${workspace.id}/files/upload?path=/`, 'multipart/form-data; boundary=x'],
        [`/v1/sandboxes/${box.id}/files/content?path=/root/cut.bin`, 'application/octet-stream'],
        [`/v1/sandboxes/${box.id}/files`, 'application/json'],
      ] as const) {
        await new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', () => {});
          socket.on('close', () => resolve());
          socket.on('connect', () => {
            const method = path.endsWith('/files') ? 'PUT' : path.includes('/upload') ? 'POST' : 'PUT';
            socket.write(
              `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${key}Content-Type: ${type}\r\nContent-Length: 10000000\r\n\r\n`,
            );
            socket.write(type.startsWith('multipart') ? part('cut.txt', 'x'.repeat(60_000)) : 'x'.repeat(60_000), () =>
              socket.resetAndDestroy(),
            );
          });
        });
        await stillServing();
      }
      const left = await fixture.rt.workspaces.files(workspace.id).list('/', { showHidden: true });
      expect(left.map((entry) => entry.name).filter((name) => name.includes('cut'))).toEqual([]);
    });
  });

  describe('workspace move and copy onto what exists', () => {
    it('answers a directory onto a file, a file onto a directory and a copy onto an existing file with 409', async () => {
      const files = fixture.rt.workspaces.files(workspace.id);
      await files.mkdir('/clash/dir/inner');
      await files.upload('/clash/file', 'f');
      await files.upload('/clash/other', 'o');
      for (const [operation, from, to] of [
        ['move', '/clash/dir', '/clash/file'],
        ['move', '/clash/file', '/clash/dir'],
        ['copy', '/clash/dir', '/clash/file'],
        ['copy', '/clash/file', '/clash/dir'],
        ['copy', '/clash/file', '/clash/other'],
      ] as const) {
        const response = await api('POST', `/v1/workspaces/${workspace.id}/files/${operation}`, {
          body: JSON.stringify({ from, to }),
          headers: { 'content-type': 'application/json' },
        });
        const error = ((await response.json()) as { error: { code: string } }).error;
        expect([operation, from, to, response.status, error.code]).toEqual([operation, from, to, 409, 'file_exists']);
      }
      expect(await files.read('/clash/other')).toBe('o');
      expect((await files.info('/clash/dir')).type).toBe('dir');
    });
  });

  describe('sandbox resources', () => {
    it('refuses memory: 0B with 400 and leaves no failed sandbox behind', async () => {
      const before = await fixture.server.request('GET', '/v1/sandboxes?status=failed');
      const response = await fixture.server.request('POST', '/v1/sandboxes', {
        body: { runtime: 'container', resources: { memory: '0B' } },
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
      const after = await fixture.server.request('GET', '/v1/sandboxes?status=failed');
      expect(((await after.json()) as { data: unknown[] }).data).toEqual(
        ((await before.json()) as { data: unknown[] }).data,
      );
    });

    it('refuses more memory or vCPUs than a sandbox may have with 422 resource_limit_exceeded', async () => {
      for (const resources of [{ memory: '900TB', vcpus: 64 }, { memory: '900TB' }, { vcpus: 64 }]) {
        const response = await fixture.server.request('POST', '/v1/sandboxes', {
          body: { runtime: 'container', resources },
        });
        const error = ((await response.json()) as { error: { code: string; details: unknown } }).error;
        expect([resources, response.status, error.code]).toEqual([resources, 422, 'resource_limit_exceeded']);
      }
    });
  });

  describe('PUT /v1/sandboxes/:id/files', () => {
    it('accepts content up to the 64 MiB it advertises, not only bodies under the 1 MiB JSON limit', async () => {
      const bytes = randomBytes(3 * 1024 * 1024);
      const response = await fixture.server.request('PUT', `/v1/sandboxes/${box.id}/files`, {
        body: { path: '/root/put.bin', content: bytes.toString('base64') },
      });
      expect(response.status).toBe(200);
      expect(Buffer.from(await box.files.download('/root/put.bin')).equals(bytes)).toBe(true);
    });
  });

  describe('WebSocket entries', () => {
    const terminalPath = () => `/v1/sandboxes/${box.id}/terminal`;

    function openTerminal(path: string, headers: Record<string, string> = {}) {
      const socket = new WebSocket(`${fixture.server.url.replace(/^http/, 'ws')}${path}`, { headers });
      const opened = new Promise<'open' | number>((resolve) => {
        socket.on('open', () => resolve('open'));
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      });
      socket.on('error', () => {});
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      return { socket, opened, closed };
    }

    it('closes a terminal sent a frame over 1 MiB (1009), and keeps serving', async () => {
      const terminal = openTerminal(terminalPath(), { 'x-api-key': fixture.server.adminKey });
      expect(await terminal.opened).toBe('open');
      terminal.socket.send(Buffer.alloc(1024 * 1024 + 1, 0x61), { binary: true });
      expect(await terminal.closed).toBe(1009);
      await stillServing();
    });

    it('closes a terminal sent garbage frames, and keeps serving', async () => {
      const garbage = [
        Buffer.from([0x8f, 0x80, 0, 0, 0, 0]), // a reserved opcode
        Buffer.from([0x82, 0x05, 1, 2, 3, 4, 5]), // an unmasked client frame
        Buffer.from([0xf2, 0x80, 0, 0, 0, 0]), // reserved bits set
        clientFrame(0x1, Buffer.from([0xff, 0xfe, 0xfd])), // text that is not UTF-8
        clientFrame(0x9, Buffer.alloc(200)), // a control frame over 125 bytes
        Buffer.concat([Buffer.from([0x82, 0xff]), bigLength(2 ** 53 - 1), randomBytes(4)]), // a length of 2^53
        randomBytes(4096),
      ];
      for (const frame of garbage) {
        const terminal = openTerminal(terminalPath(), { 'x-api-key': fixture.server.adminKey });
        expect(await terminal.opened).toBe('open');
        (terminal.socket as unknown as { _socket: import('node:net').Socket })._socket.write(frame);
        expect(await terminal.closed).toBeGreaterThanOrEqual(1000);
      }
      // Control messages that are JSON but nonsense.
      const terminal = openTerminal(terminalPath(), { 'x-api-key': fixture.server.adminKey });
      expect(await terminal.opened).toBe('open');
      for (const text of [
        '{"type":"resize","cols":-1,"rows":-1}',
        '{"type":"resize","cols":1e9,"rows":1e9}',
        '{"type":"input","data":5}',
        'null',
        '"x"',
        '{"type":"__proto__"}',
      ])
        terminal.socket.send(text);
      terminal.socket.close();
      await terminal.closed;
      await stillServing();
    });

    it('answers upgrades on paths a URL parser refuses, and keeps serving', async () => {
      for (const path of ['//', '//[', 'http://[', '/v1/sandboxes/x/terminal?%zz', '*']) {
        const answer = await exchange(port, `GET ${path} HTTP/1.1\r\n${websocketHeaders(`127.0.0.1:${port}`)}`);
        expect([path, answer]).toEqual([path, expect.stringMatching(/^HTTP\/1\.1 4\d\d /)]);
        const plain = await exchange(
          port,
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
        );
        expect([path, plain]).toEqual([path, expect.stringMatching(/^HTTP\/1\.1 4\d\d /)]);
      }
      await stillServing();
    });

    it('opens a terminal once per token', async () => {
      const response = await fixture.server.request('POST', `${terminalPath()}/token`);
      const { token } = (await response.json()) as { token: string };
      const first = openTerminal(`${terminalPath()}?token=${token}`);
      expect(await first.opened).toBe('open');
      first.socket.close();
      await first.closed;
      const second = openTerminal(`${terminalPath()}?token=${token}`);
      expect(await second.opened).toBe(401);
    });

    it('relays garbage and oversized frames to a dev URL WebSocket without harm to the server', async () => {
      await box.files.write('/root/server.pl', devServer);
      await box.exec('perl /root/server.pl 8080', { background: true });
      const { url } = await box.getUrl({ port: 8080 });
      const host = new URL(url).host;
      const key = `x-api-key: ${fixture.server.adminKey}\r\n`;
      // Wait until the app in the sandbox answers (the dev URL waits for a port that is still opening).
      expect(await exchange(port, `GET /hi HTTP/1.1\r\nHost: ${host}\r\n${key}Connection: close\r\n\r\n`)).toMatch(
        /^HTTP\/1\.1 200/,
      );
      for (const frames of [
        [randomBytes(8192)],
        [clientFrame(0x2, Buffer.alloc(2 * 1024 * 1024 + 3, 1))],
        [Buffer.concat([Buffer.from([0x82, 0xff]), bigLength(2 ** 53 - 1), randomBytes(4)]), randomBytes(1024)],
      ]) {
        await exchange(port, `GET /ws HTTP/1.1\r\n${websocketHeaders(host, key)}`, ...frames);
      }
      // Upgrade requests that are not WebSockets at all, or carry a bad Host.
      await exchange(
        port,
        `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: \x01garbage\r\nConnection: Upgrade\r\n${key}\r\n`,
        randomBytes(2048),
      );
      // Request targets no URL parser takes, as an upgrade and as a plain request: refused as the caller's error.
      for (const target of ['//[', '//'])
        expect(await exchange(port, `GET ${target} HTTP/1.1\r\n${websocketHeaders(host, key)}`)).toMatch(
          /^HTTP\/1\.1 4\d\d /,
        );
      expect(await exchange(port, `GET //[ HTTP/1.1\r\nHost: ${host}\r\n${key}Connection: close\r\n\r\n`)).toMatch(
        /^HTTP\/1\.1 4\d\d /,
      );
      await stillServing();
      const echo = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
        headers: { host, 'x-api-key': fixture.server.adminKey },
      });
      await new Promise<void>((resolve, reject) => {
        echo.on('open', () => resolve());
        echo.on('error', reject);
      });
      const reply = new Promise<string>((resolve) => echo.on('message', (data) => resolve(data.toString())));
      echo.send('still here');
      expect(await reply).toBe('echo: still here');
      echo.close();
    });
  });

  describe('dev URLs to an app that answers what no HTTP server should', () => {
    it('answers 502 for a status out of range or a control character in the reason, and keeps serving', async () => {
      // Status lines Node's client parser takes but its server refuses to write back (it threw mid-relay).
      const app = `use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0:8091", Listen => 50, ReuseAddr => 1) or die;
while (my $c = $s->accept) {
  my $line = <$c>;
  while (defined(my $header = <$c>)) { last if $header eq "\\r\\n" }
  my %answers = ("/zero" => "000 Zero", "/low" => "099 Low", "/control" => "200 O\\x01K", "/fine" => "200 OK");
  my ($path) = $line =~ m{^\\S+ (\\S+)};
  print $c "HTTP/1.1 " . ($answers{$path} // "404 No") . "\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nhi";
  close $c;
}`;
      await box.files.write('/root/bad-app.pl', app);
      await box.exec('perl /root/bad-app.pl', { background: true });
      const { url } = await box.getUrl({ port: 8091 });
      const host = new URL(url).host;
      const get = (path: string) =>
        exchange(
          port,
          `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${fixture.server.adminKey}\r\nConnection: close\r\n\r\n`,
        );
      expect(await get('/fine')).toMatch(/^HTTP\/1\.1 200 OK/);
      for (const path of ['/zero', '/low', '/control']) {
        expect([path, await get(path)]).toEqual([path, expect.stringMatching(/^HTTP\/1\.1 502 /)]);
        await stillServing();
      }
    });
  });

  describe('the SSH gateway', () => {
    let privateKey: string;

    beforeAll(async () => {
      const pair = ed25519KeyPair();
      privateKey = pair.private;
      await fixture.rt.sshKeys.add({ name: 'hostile', publicKey: pair.public });
    });

    function session(): Promise<ssh2.Client> {
      return new Promise((resolve, reject) => {
        const client = new ssh2.Client();
        client.on('ready', () => resolve(client));
        client.on('error', reject);
        client.connect({ host: '127.0.0.1', port: fixture.server.running.sshPort, username: box.id, privateKey });
      });
    }

    async function sshStillServing() {
      const client = await session();
      const output = await new Promise<string>((resolve, reject) =>
        client.exec('echo alive', (error, stream) => {
          if (error) return reject(error);
          let out = '';
          stream.on('data', (chunk: Buffer) => {
            out += chunk.toString();
          });
          stream.on('close', () => resolve(out));
        }),
      );
      client.end();
      expect(output).toBe('alive\n');
      await stillServing();
    }

    it('survives garbage and oversized packets before authentication', async () => {
      const sshPort = fixture.server.running.sshPort;
      await exchange(sshPort, randomBytes(65536));
      await exchange(sshPort, 'SSH-2.0-hostile\r\n', Buffer.from([0xff, 0xff, 0xff, 0xf0]), randomBytes(65536));
      await exchange(sshPort, 'SSH-2.0-hostile\r\n', Buffer.from([0, 0, 0, 12, 4, 250]), randomBytes(14));
      await exchange(sshPort, `SSH-2.0-${'x'.repeat(300_000)}\r\n`);
      await sshStillServing();
    });

    it('answers an SFTP read of 1 GiB with at most 256 KiB (not the whole file held in memory)', async () => {
      await box.exec('head -c 1200000 /dev/zero > /root/big.bin');
      const client = await session();
      const channel = await new Promise<import('ssh2').ClientChannel>((resolve, reject) =>
        client.subsys('sftp', (error, stream) => (error ? reject(error) : resolve(stream))),
      );
      // A minimal SFTP client speaking raw packets: ssh2's own never asks for more than 34 KB at once.
      let received = Buffer.alloc(0);
      const waiting: { type: number; resolve: (body: Buffer) => void }[] = [];
      channel.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        while (received.length >= 4 && received.length >= 4 + received.readUInt32BE(0)) {
          const length = received.readUInt32BE(0);
          const type = received[4] as number;
          const body = received.subarray(5, 4 + length);
          received = received.subarray(4 + length);
          const next = waiting.shift();
          if (next) expect([next.type, type]).toEqual([next.type, next.type]);
          next?.resolve(body);
        }
      });
      const request = (type: number, body: Buffer, answer: number) =>
        new Promise<Buffer>((resolve) => {
          waiting.push({ type: answer, resolve });
          const header = Buffer.alloc(5);
          header.writeUInt32BE(body.length + 1);
          header[4] = type;
          channel.write(Buffer.concat([header, body]));
        });
      const string = (value: Buffer | string) => {
        const bytes = Buffer.from(value);
        const length = Buffer.alloc(4);
        length.writeUInt32BE(bytes.length);
        return Buffer.concat([length, bytes]);
      };
      const uint32 = (value: number) => {
        const buffer = Buffer.alloc(4);
        buffer.writeUInt32BE(value);
        return buffer;
      };
      await request(1, uint32(3), 2); // INIT → VERSION
      const opened = await request(3, Buffer.concat([uint32(1), string('/root/big.bin'), uint32(1), uint32(0)]), 102);
      const handle = opened.subarray(8, 8 + opened.readUInt32BE(4));
      const read = await request(5, Buffer.concat([uint32(2), string(handle), Buffer.alloc(8), uint32(2 ** 30)]), 103);
      expect(read.readUInt32BE(4)).toBe(256 * 1024);
      channel.end();
      client.end();
    });

    it('survives garbage SFTP packets, huge reads and nonsense window sizes from an authenticated client', async () => {
      let client = await session();
      const sftpRaw = await new Promise<import('ssh2').ClientChannel>((resolve, reject) =>
        client.subsys('sftp', (error, stream) => (error ? reject(error) : resolve(stream))),
      );
      sftpRaw.on('error', () => {});
      sftpRaw.resume();
      const packet = (type: number, body: Buffer) => {
        const header = Buffer.alloc(5);
        header.writeUInt32BE(body.length + 1);
        header[4] = type;
        return Buffer.concat([header, body]);
      };
      sftpRaw.write(packet(1, Buffer.from([0, 0, 0, 3]))); // INIT
      sftpRaw.write(packet(200, randomBytes(64))); // an unknown type
      sftpRaw.write(packet(3, Buffer.from([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]))); // OPEN, a name longer than the packet
      sftpRaw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 5])); // a length of 4 GiB
      sftpRaw.write(randomBytes(4096));
      sftpRaw.end();
      await new Promise<void>((resolve) => sftpRaw.on('close', () => resolve()));
      // The gateway may drop a connection that broke the protocol (ssh2 does after a malformed SFTP packet): a
      // new one, then, for a real SFTP client asking for absurd reads and a shell resized to nonsense.
      client.end();
      client = await session();
      const sftp = await new Promise<import('ssh2').SFTPWrapper>((resolve, reject) =>
        client.sftp((error, wrapper) => (error ? reject(error) : resolve(wrapper))),
      );
      const handle = await new Promise<Buffer>((resolve, reject) =>
        sftp.open('/etc/hostname', 'r', (error, opened) => (error ? reject(error) : resolve(opened))),
      );
      const read = await new Promise<number>((resolve) =>
        sftp.read(handle, Buffer.alloc(64), 0, 64, 2 ** 40, (error, bytes) => resolve(error ? -1 : bytes)),
      );
      expect(read).toBeLessThanOrEqual(0);
      sftp.end();
      await new Promise<void>((resolve, reject) =>
        client.shell({ cols: 0, rows: 0 }, (error, stream) => {
          if (error) return reject(error);
          stream.setWindow(2 ** 31, 2 ** 31, 0, 0);
          stream.setWindow(-1, -1, 0, 0);
          stream.resume();
          stream.end('exit\n');
          stream.on('close', () => resolve());
        }),
      );
      client.end();
      await sshStillServing();
    });
  });
});
