import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityKey, meshChallengePrefix, WireGuardKey } from '@runtools/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateKeys, signChallenge, wireguardPublicKey } from './keys.js';
import { meshPaths } from './state.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runtools-mesh-keys-'));
  dirs.push(dir);
  return dir;
}
// An X25519 private key as PKCS8 DER: this prefix and the raw 32 bytes (RFC 8410).
function x25519PrivateKey(wireguardForm: string) {
  const prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');
  return createPrivateKey({
    key: Buffer.concat([prefix, Buffer.from(wireguardForm, 'base64')]),
    format: 'der',
    type: 'pkcs8',
  });
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('device keys', () => {
  it('makes keys in the forms the spec takes, private files 0600 in a 0700 dir', () => {
    const paths = meshPaths(join(tempDir(), 'mesh'));
    const keys = loadOrCreateKeys(paths);
    expect(WireGuardKey.safeParse(keys.wireguardPublicKey).success).toBe(true);
    expect(IdentityKey.safeParse(keys.identityPublicKey).success).toBe(true);
    expect(Buffer.from(keys.wireguardPrivateKey, 'base64')).toHaveLength(32);
    expect(statSync(paths.dir).mode & 0o777).toBe(0o700);
    expect(statSync(paths.wireguardKey).mode & 0o777).toBe(0o600);
    expect(statSync(paths.identityKey).mode & 0o777).toBe(0o600);
    expect(readFileSync(paths.identityKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('reuses the keys it made', () => {
    const paths = meshPaths(tempDir());
    const first = loadOrCreateKeys(paths);
    const second = loadOrCreateKeys(paths);
    expect(second.wireguardPublicKey).toBe(first.wireguardPublicKey);
    expect(second.identityPublicKey).toBe(first.identityPublicKey);
  });

  it('derives the WireGuard public key that agrees with the private key (X25519 key agreement)', () => {
    const keys = loadOrCreateKeys(meshPaths(tempDir()));
    const peer = generateKeyPairSync('x25519');
    const peerPublic = Buffer.from(peer.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    const ours = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(keys.wireguardPublicKey, 'base64').toString('base64url') },
      format: 'jwk',
    });
    // The peer computes the shared secret with our public key; we compute it with our private key.
    const theirs = diffieHellman({ privateKey: peer.privateKey, publicKey: ours });
    const mine = diffieHellman({
      privateKey: x25519PrivateKey(keys.wireguardPrivateKey),
      publicKey: createPublicKey({
        key: { kty: 'OKP', crv: 'X25519', x: peerPublic.toString('base64url') },
        format: 'jwk',
      }),
    });
    expect(mine.equals(theirs)).toBe(true);
  });

  it('computes what wg pubkey computes for a known key (RFC 7748 test vector)', () => {
    // RFC 7748 section 6.1: Alice's private key and public key.
    const privateKey = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    const publicKey = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');
    expect(wireguardPublicKey(privateKey.toString('base64'))).toBe(publicKey.toString('base64'));
  });

  it('derives the public key wg pubkey derives from the key file', () => {
    const paths = meshPaths(tempDir());
    const keys = loadOrCreateKeys(paths);
    // wg comes with the test tools (scripts/install-test-tools.sh); it reads the key file as the helper writes it.
    const derived = execFileSync('wg', ['pubkey'], { input: readFileSync(paths.wireguardKey) })
      .toString()
      .trim();
    expect(derived).toBe(keys.wireguardPublicKey);
  });

  it('signs the challenge so that the identity public key verifies it', () => {
    const keys = loadOrCreateKeys(meshPaths(tempDir()));
    const nonce = 'n0nce-123';
    const signature = signChallenge(keys.identityPrivateKey, nonce);
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: keys.identityPublicKey },
      format: 'jwk',
    });
    const message = Buffer.from(`${meshChallengePrefix}${nonce}`);
    expect(verify(null, message, publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
    expect(
      verify(null, Buffer.from(`${meshChallengePrefix}other`), publicKey, Buffer.from(signature, 'base64url')),
    ).toBe(false);
  });
});
