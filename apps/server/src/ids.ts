import { randomFillSync } from 'node:crypto';
import { type IdKind, idPrefixes } from '@runtools/spec';

const base32 = 'abcdefghijklmnopqrstuvwxyz234567';

// Ids are minted on every request (request ids), and one randomBytes call per id costs more than the rest of
// the id: draw random bytes in blocks and hand them out.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** `count` random characters from the lowercase base32 alphabet (5 bits each, no modulo bias). */
export function randomBase32(count: number): string {
  if (count > pool.length) throw new RangeError('too many characters for one id');
  if (poolOffset + count > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  let out = '';
  for (let index = 0; index < count; index++) out += base32[(pool[poolOffset + index] ?? 0) & 31];
  poolOffset += count;
  return out;
}

/** A new id of the given kind, e.g. `sec_k3j…` (100 random bits). */
export function newId(kind: IdKind): string {
  return `${idPrefixes[kind]}_${randomBase32(20)}`;
}

export function nowIso(): string {
  return new Date().toISOString();
}
