import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError, keyIdOf, open, rewrap, rootKeyFromBytes, seal } from './envelope.js';

const root = rootKeyFromBytes(randomBytes(32));
const other = rootKeyFromBytes(randomBytes(32));

describe('envelope encryption', () => {
  it('opens what it sealed and names the root key in the ciphertext', () => {
    const sealed = seal(root, 'org:sec', 'the value');
    expect(open(root, 'org:sec', sealed)).toBe('the value');
    expect(keyIdOf(sealed)).toBe(root.id);
    expect(sealed).not.toContain('the value');
  });

  it('uses a fresh data key and IVs every time', () => {
    expect(seal(root, 'a', 'same')).not.toBe(seal(root, 'a', 'same'));
  });

  it('refuses another root key, other associated data, and any flipped bit', () => {
    const sealed = seal(root, 'org1:sec1', 'value');
    expect(() => open(other, 'org1:sec1', sealed)).toThrow(DecryptionError);
    expect(() => open(root, 'org2:sec1', sealed)).toThrow(DecryptionError);
    const parts = sealed.split('.');
    for (const index of [2, 3, 4, 5]) {
      const bytes = Buffer.from(parts[index] ?? '', 'base64url');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      const tampered = [...parts];
      tampered[index] = bytes.toString('base64url');
      expect(() => open(root, 'org1:sec1', tampered.join('.'))).toThrow(DecryptionError);
    }
    expect(() => open(root, 'org1:sec1', 'v2.x.y')).toThrow(DecryptionError);
  });

  it('re-wraps under a new root key without touching the value ciphertext', () => {
    const sealed = seal(root, 'aad', 'value');
    const moved = rewrap(root, other, 'aad', sealed);
    expect(open(other, 'aad', moved)).toBe('value');
    expect(() => open(root, 'aad', moved)).toThrow(DecryptionError);
    expect(moved.split('.').slice(4)).toEqual(sealed.split('.').slice(4));
  });
});
