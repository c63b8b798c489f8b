import { createHash, randomBytes } from 'node:crypto';
import { ValidationError } from '@runtools/sdk';
import { describe, expect, it } from 'vitest';
import { useSandboxServer } from '../../../../test/support/server.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** `count` chunks of 1 MiB of pseudo-random bytes, produced as they are read, with their running hash. */
function chunks(count: number) {
  const hash = createHash('sha256');
  async function* generate() {
    for (let index = 0; index < count; index++) {
      const chunk = randomBytes(1024 * 1024);
      hash.update(chunk);
      yield chunk;
    }
  }
  return { stream: generate(), digest: () => hash.digest('hex') };
}

describe('sandbox files over REST: streaming, limits, stat, move and watch', () => {
  const fixture = useSandboxServer({ RUNTOOLS_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) });

  it.each(['gvisor', 'container'] as const)(
    'streams a 48 MiB upload into a %s sandbox and back, byte for byte',
    async (runtime) => {
      const box = await fixture.rt.sandboxes.create({ runtime });
      fixture.track(box);
      const upload = chunks(48);
      expect(await box.files.upload('/data/big.bin', upload.stream)).toEqual({
        path: '/data/big.bin',
        size: 48 * 1024 * 1024,
      });
      const digest = upload.digest();
      expect((await box.exec('sha256sum /data/big.bin')).stdout.split(' ')[0]).toBe(digest);
      expect(sha256(await box.files.download('/data/big.bin'))).toBe(digest);
      const hash = createHash('sha256');
      let pieces = 0;
      for await (const piece of await box.files.downloadStream('/data/big.bin')) {
        hash.update(piece);
        pieces++;
      }
      expect(hash.digest('hex')).toBe(digest);
      expect(pieces).toBeGreaterThan(1);
    },
    120_000,
  );

  it('refuses an upload past the limit and keeps the old file; refuses other content types', async () => {
    const box = await fixture.rt.sandboxes.create({ runtime: 'container' });
    fixture.track(box);
    await box.files.write('/data/keep.txt', 'original');
    const tooBig = await box.files.upload('/data/keep.txt', chunks(80).stream).catch((error: unknown) => error);
    expect(tooBig).toBeInstanceOf(ValidationError);
    expect((tooBig as ValidationError).code).toBe('payload_too_large');
    expect(await box.files.read('/data/keep.txt')).toBe('original');
    // No half-written temporary file is left beside it.
    expect((await box.files.list('/data')).map((entry) => entry.name)).toEqual(['keep.txt']);

    const wrongType = await fetch(`${fixture.server.url}/v1/sandboxes/${box.id}/files/content?path=/data/x`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${fixture.server.adminKey}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(wrongType.status).toBe(415);
    expect(((await wrongType.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');

    await box.files.upload('/data/keep.txt', Buffer.from('+more'), { append: true });
    expect(await box.files.read('/data/keep.txt')).toBe('original+more');
    await expect(box.files.download('/data')).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(box.files.download('/no/such')).rejects.toMatchObject({ code: 'file_not_found' });
    const raw = await fetch(`${fixture.server.url}/v1/sandboxes/${box.id}/files/content?path=/data/keep.txt`, {
      headers: { authorization: `Bearer ${fixture.server.adminKey}` },
    });
    expect([raw.status, raw.headers.get('content-type'), raw.headers.get('content-length')]).toEqual([
      200,
      'application/octet-stream',
      '13',
    ]);
    expect(await raw.text()).toBe('original+more');
  });

  it('stats, moves and watches files; paths resolve inside the sandbox only', async () => {
    const box = await fixture.rt.sandboxes.create({ runtime: 'container' });
    fixture.track(box);
    await box.files.write('/app/a.txt', 'a');
    expect(await box.files.stat('/app/a.txt')).toMatchObject({ type: 'file', size: 1, mode: 0o644, name: 'a.txt' });
    await box.exec('ln -s /etc/hostname /app/link');
    expect(await box.files.stat('/app/link')).toMatchObject({ type: 'symlink', target: '/etc/hostname' });
    await box.files.move('/app/a.txt', '/app/sub/b.txt');
    expect(await box.files.exists('/app/a.txt')).toBe(false);
    expect(await box.files.read('/app/sub/b.txt')).toBe('a');
    // `..` cannot climb out of the sandbox's root: this is the sandbox's own /etc/hostname.
    expect(await box.files.read('/../../../etc/hostname')).toBe(await box.files.read('/etc/hostname'));
    expect(await box.files.read('/app/link')).toBe(await box.files.read('/etc/hostname'));

    const changes: string[] = [];
    const watcher = await box.files.watch('/app', (event) => changes.push(`${event.type} ${event.path}`), {
      recursive: true,
    });
    await box.files.write('/app/sub/new.txt', 'x');
    await box.exec('rm /app/sub/b.txt');
    await expect
      .poll(() => changes)
      .toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^(create|write) \/app\/sub\/new\.txt$/),
          'remove /app/sub/b.txt',
        ]),
      );
    watcher.stop();
    await watcher.done;
    await expect(box.files.watch('/no/such/dir', () => {})).rejects.toMatchObject({ code: 'file_not_found' });
  });
});
