import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { apiKeyPattern } from '@runtools/spec';
import { randomBase32 } from '../ids.js';

/** A freshly minted key: `rt_<prefix>_<256 random bits>`. Only its hash is stored. */
export function mintApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = `rt_${randomBase32(8)}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/**
 * A secret token of 256 random bits (an API key, a dashboard session's cookie, a sign-in link) as it is stored:
 * one SHA-256 is the right hash, nothing to brute-force, constant cost per request.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function hashApiKey(key: string): string {
  return hashToken(key);
}

export function parseApiKey(key: string): { prefix: string } | undefined {
  const match = apiKeyPattern.exec(key);
  return match ? { prefix: `rt_${match[1]}` } : undefined;
}

export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
