import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSshPublicKey } from './ssh-public-key.js';

const dir = mkdtempSync(join(tmpdir(), 'runtools-ssh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A key made by the real OpenSSH ssh-keygen, with the fingerprint ssh-keygen itself prints. */
let generated = 0;
function generate(type: string, bits?: number) {
  const file = join(dir, `${type}-${bits ?? 0}-${generated++}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(bits ? ['-b', String(bits)] : []),
    '-N',
    '',
    '-C',
    `test ${type}`,
    '-f',
    file,
  ]);
  const publicKey = readFileSync(`${file}.pub`, 'utf8');
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], {
    encoding: 'utf8',
  }).split(' ')[1];
  return { file, publicKey, fingerprint };
}

describe('parseSshPublicKey', () => {
  it.each([
    ['ed25519', undefined, 256],
    ['rsa', 3072, 3072],
    ['ecdsa', 256, 256],
    ['ecdsa', 384, 384],
    ['ecdsa', 521, 521],
  ])('accepts an OpenSSH %s key and fingerprints it exactly as ssh-keygen -l does', (type, bits, expectedBits) => {
    const key = generate(type, bits);
    const parsed = parseSshPublicKey(key.publicKey);
    expect(parsed.fingerprint).toBe(key.fingerprint);
    expect(parsed.bits).toBe(expectedBits);
    expect(parsed.comment).toBe(`test ${type}`);
    expect(key.publicKey.startsWith(parsed.publicKey)).toBe(true);
  });

  it('rejects RSA keys under 2048 bits', () => {
    const key = generate('rsa', 1024);
    expect(() => parseSshPublicKey(key.publicKey)).toThrow(/at least 2048 bits/);
  });

  it('rejects a private key, a truncated key, a mislabelled key and junk', () => {
    const key = generate('ed25519', undefined);
    expect(() => parseSshPublicKey(readFileSync(key.file, 'utf8'))).toThrow();
    const [type, data] = key.publicKey.split(' ') as [string, string];
    expect(() => parseSshPublicKey(`${type} ${data.slice(0, 40)}`)).toThrow();
    expect(() => parseSshPublicKey(`ssh-rsa ${data}`)).toThrow(/says it is ssh-rsa/);
    expect(() => parseSshPublicKey('hello world')).toThrow();
    expect(() => parseSshPublicKey(`${key.publicKey.trim()}\n${key.publicKey.trim()}`)).toThrow(/one public key line/);
    expect(() => parseSshPublicKey(`command="rm -rf /" ${key.publicKey}`)).toThrow();
  });

  it('rejects an ECDSA point that is not on its curve', () => {
    const key = generate('ecdsa', 256);
    const blob = Buffer.from(key.publicKey.split(' ')[1] ?? '', 'base64');
    const corrupted = Buffer.from(blob);
    corrupted[corrupted.length - 1] = (corrupted[corrupted.length - 1] ?? 0) ^ 0xff;
    expect(() => parseSshPublicKey(`ecdsa-sha2-nistp256 ${corrupted.toString('base64')}`)).toThrow(/not on its curve/);
  });
});
