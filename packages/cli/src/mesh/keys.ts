import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign as signData } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { meshChallengePrefix } from '@runtools/spec';
import { UserError } from '../errors.js';
import { ensureMeshDir, type MeshPaths } from './state.js';

/** A device's keys. The private halves never leave the device. */
export interface DeviceKeys {
  /** WireGuard form: the raw 32 bytes of the X25519 private key, standard base64. */
  wireguardPrivateKey: string;
  /** WireGuard form of the public key (matches `WireGuardKey`). */
  wireguardPublicKey: string;
  /** The Ed25519 identity key that signs the channel's challenge. */
  identityPrivateKey: KeyObject;
  /** Raw 32 bytes, base64url without padding (matches `IdentityKey`). */
  identityPublicKey: string;
}

// An X25519 private key as PKCS8 DER is this prefix and its 32 raw bytes (RFC 8410).
const x25519Pkcs8Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');

function rawJwk(key: KeyObject, field: 'x' | 'd'): Buffer {
  const value = key.export({ format: 'jwk' })[field];
  if (typeof value !== 'string') throw new Error(`the key has no ${field}`);
  return Buffer.from(value, 'base64url');
}

/** The public key of a WireGuard private key (base64), as `wg pubkey` computes it. */
export function wireguardPublicKey(privateKey: string): string {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== privateKey) throw new Error('not a WireGuard private key');
  const key = createPrivateKey({ key: Buffer.concat([x25519Pkcs8Prefix, raw]), format: 'der', type: 'pkcs8' });
  return rawJwk(createPublicKey(key), 'x').toString('base64');
}

export function generateWireGuardKey(): string {
  const { privateKey } = generateKeyPairSync('x25519');
  return rawJwk(privateKey, 'd').toString('base64');
}

export function identityPublicKey(privateKey: KeyObject): string {
  return rawJwk(createPublicKey(privateKey), 'x').toString('base64url');
}

/** The channel's answer to a challenge: an Ed25519 signature (base64url) of the prefix and the nonce. */
export function signChallenge(privateKey: KeyObject, nonce: string): string {
  return signData(null, Buffer.from(`${meshChallengePrefix}${nonce}`, 'utf8'), privateKey).toString('base64url');
}

function writeSecret(path: string, content: string): void {
  // 'wx': two helpers starting at once cannot each write a different key.
  writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

/** Loads the device's keys, making each the first time (and only then). */
export function loadOrCreateKeys(paths: MeshPaths): DeviceKeys {
  ensureMeshDir(paths);
  if (!existsSync(paths.wireguardKey)) {
    try {
      writeSecret(paths.wireguardKey, `${generateWireGuardKey()}\n`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  if (!existsSync(paths.identityKey)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      writeSecret(paths.identityKey, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const wireguardPrivateKey = readFileSync(paths.wireguardKey, 'utf8').trim();
  let wireguardPublic: string;
  try {
    wireguardPublic = wireguardPublicKey(wireguardPrivateKey);
  } catch {
    throw new UserError(`${paths.wireguardKey} is not a WireGuard private key`, 'remove it to make a new one');
  }
  let identityPrivateKey: KeyObject;
  try {
    identityPrivateKey = createPrivateKey(readFileSync(paths.identityKey, 'utf8'));
  } catch {
    throw new UserError(`${paths.identityKey} is not a private key`, 'remove it to make a new one');
  }
  if (identityPrivateKey.asymmetricKeyType !== 'ed25519') {
    throw new UserError(`${paths.identityKey} is not an Ed25519 key`, 'remove it to make a new one');
  }
  return {
    wireguardPrivateKey,
    wireguardPublicKey: wireguardPublic,
    identityPrivateKey,
    identityPublicKey: identityPublicKey(identityPrivateKey),
  };
}
