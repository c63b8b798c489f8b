import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Envelope encryption for secrets: every value is sealed with its own random 256-bit data key (AES-256-GCM),
 * and that data key is sealed with the root key. The root key's id travels in every ciphertext, and the
 * caller's associated data (org id and secret id) is bound into both layers, so a ciphertext copied onto
 * another secret or org fails to open.
 *
 * Format: `v1.<rootKeyId>.<wrapIv>.<wrappedDataKey+tag>.<valueIv>.<value+tag>`, base64url parts.
 */
const version = 'v1';

export class DecryptionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecryptionError';
  }
}

/** A loaded root key: 32 bytes and the id derived from them. */
export interface RootKey {
  id: string;
  key: Buffer;
}

export function rootKeyFromBytes(key: Buffer): RootKey {
  if (key.length !== 32) throw new Error('a root key is exactly 32 bytes');
  const id = createHash('sha256').update('runtools-root-key-id\0').update(key).digest('hex').slice(0, 16);
  return { id, key };
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): { iv: Buffer; sealed: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv, sealed };
}

function gcmOpen(key: Buffer, iv: Buffer, sealed: Buffer, aad: string): Buffer {
  if (iv.length !== 12 || sealed.length < 16) throw new DecryptionError('ciphertext is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch (error) {
    throw new DecryptionError('ciphertext failed authentication (tampered, or sealed for another secret)', {
      cause: error,
    });
  }
}

const b64 = (buffer: Buffer) => buffer.toString('base64url');

interface Parsed {
  keyId: string;
  wrapIv: Buffer;
  wrapped: Buffer;
  valueIv: Buffer;
  value: Buffer;
}

function parse(ciphertext: string): Parsed {
  const parts = ciphertext.split('.');
  if (parts.length !== 6 || parts[0] !== version) throw new DecryptionError('not a RunTools v1 ciphertext');
  const [, keyId, wrapIv, wrapped, valueIv, value] = parts as [string, string, string, string, string, string];
  return {
    keyId,
    wrapIv: Buffer.from(wrapIv, 'base64url'),
    wrapped: Buffer.from(wrapped, 'base64url'),
    valueIv: Buffer.from(valueIv, 'base64url'),
    value: Buffer.from(value, 'base64url'),
  };
}

const dataKeyAad = (aad: string) => `data-key\0${aad}`;

export function seal(root: RootKey, aad: string, plaintext: string): string {
  const dataKey = randomBytes(32);
  const wrap = gcmSeal(root.key, dataKey, dataKeyAad(aad));
  const value = gcmSeal(dataKey, Buffer.from(plaintext, 'utf8'), aad);
  dataKey.fill(0);
  return [version, root.id, b64(wrap.iv), b64(wrap.sealed), b64(value.iv), b64(value.sealed)].join('.');
}

export function keyIdOf(ciphertext: string): string {
  return parse(ciphertext).keyId;
}

export function open(root: RootKey, aad: string, ciphertext: string): string {
  const parsed = parse(ciphertext);
  if (parsed.keyId !== root.id) {
    throw new DecryptionError(`sealed under root key ${parsed.keyId}, but the loaded root key is ${root.id}`);
  }
  const dataKey = gcmOpen(root.key, parsed.wrapIv, parsed.wrapped, dataKeyAad(aad));
  try {
    return gcmOpen(dataKey, parsed.valueIv, parsed.value, aad).toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-seals only the data key under a new root key; the value's own ciphertext is unchanged. */
export function rewrap(from: RootKey, to: RootKey, aad: string, ciphertext: string): string {
  const parsed = parse(ciphertext);
  if (parsed.keyId !== from.id) throw new DecryptionError(`sealed under root key ${parsed.keyId}, not ${from.id}`);
  const dataKey = gcmOpen(from.key, parsed.wrapIv, parsed.wrapped, dataKeyAad(aad));
  // Open the value too, so a rotation never carries a corrupt secret forward silently.
  gcmOpen(dataKey, parsed.valueIv, parsed.value, aad);
  const wrap = gcmSeal(to.key, dataKey, dataKeyAad(aad));
  dataKey.fill(0);
  return [version, to.id, b64(wrap.iv), b64(wrap.sealed), b64(parsed.valueIv), b64(parsed.value)].join('.');
}
