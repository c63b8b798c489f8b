import { randomBytes } from 'node:crypto';
import { type IdKind, idPrefixes } from '@runtools/spec';

const base32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `count` random characters from the lowercase base32 alphabet (5 bits each, no modulo bias). */
export function randomBase32(count: number): string {
  const bytes = randomBytes(count);
  let out = '';
  for (let index = 0; index < count; index++) out += base32[(bytes[index] ?? 0) & 31];
  return out;
}

/** A new id of the given kind, e.g. `sec_k3j…` (100 random bits). */
export function newId(kind: IdKind): string {
  return `${idPrefixes[kind]}_${randomBase32(20)}`;
}

export function nowIso(): string {
  return new Date().toISOString();
}
