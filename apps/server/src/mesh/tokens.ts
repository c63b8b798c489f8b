import { createPublicKey, randomBytes, randomInt, timingSafeEqual, verify } from 'node:crypto';
import { meshChallengePrefix, meshCodeAlphabet } from '@runtools/spec';
import { hashToken } from '../auth/api-key-token.js';

/** A node's secret: `rtn_` and 256 random bits. Only its SHA-256 is stored (nothing to brute-force). */
export function mintNodeToken(): { token: string; hash: string } {
  const token = `rtn_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

/** A link's poll token: `rtp_` and 256 random bits, hashed like a node token. */
export function mintPollToken(): { token: string; hash: string } {
  const token = `rtp_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export const nodeTokenPattern = /^rtn_[A-Za-z0-9_-]{43}$/;

/** Node, poll and link tokens are hashed as API keys are. */
export { hashToken };

export function hashesMatch(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** A code for people to read out: 8 characters (40 bits) from an alphabet without look-alikes, as `ABCD-2345`. */
export function mintLinkCode(): string {
  let code = '';
  for (let index = 0; index < 8; index++) code += meshCodeAlphabet[randomInt(meshCodeAlphabet.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** Whether `signature` (base64url) is the device's Ed25519 signature of the challenge `nonce`. */
export function verifyChallenge(identityKey: string, nonce: string, signature: string): boolean {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: identityKey }, format: 'jwk' });
    return verify(null, Buffer.from(meshChallengePrefix + nonce), key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** Addresses are handed out in order from 100.64.0.1 (the n-th address of 100.64.0.0/10). */
export const maxMeshAddresses = 2 ** 22 - 2;

export function meshAddress(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > maxMeshAddresses)
    throw new RangeError(`mesh address #${index} is outside 100.64.0.0/10`);
  return `100.${64 + (index >> 16)}.${(index >> 8) & 255}.${index & 255}`;
}
