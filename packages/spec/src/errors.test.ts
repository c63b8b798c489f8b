import { describe, expect, it } from 'vitest';
import { ErrorBody, ErrorCode, errorFamilies, errorFamily, errorStatus, errorTable } from './errors.js';

/** The statuses a family's codes may answer with: an SDK error class is chosen by family, a client by status. */
const familyStatuses = {
  validation: [400, 405, 413, 415, 422],
  authentication: [401],
  permission: [403],
  not_found: [404],
  // 410: a RunMesh link code that expired (mesh_link_expired) is gone for good, not merely in the way.
  conflict: [409, 410],
  rate_limit: [429],
  tool: [502, 504],
  internal: [500, 502, 503],
} as const;

describe('the error table', () => {
  it('gives every code a status that agrees with its family, and derives the enum, families and statuses from it', () => {
    const codes = Object.keys(errorTable);
    expect(ErrorCode.options).toEqual(codes);
    for (const code of ErrorCode.options) {
      const { status, family } = errorTable[code];
      expect([code, (familyStatuses[family] as readonly number[]).includes(status)]).toEqual([code, true]);
      expect(errorFamilies[code]).toBe(family);
      expect(errorStatus[code]).toBe(status);
    }
  });

  it('counts an unknown code as internal and refuses it in an error body', () => {
    expect(errorFamily('no_such_code')).toBe('internal');
    expect(errorFamily('sandbox_not_found')).toBe('not_found');
    expect(ErrorBody.safeParse({ error: { code: 'no_such_code', message: 'x' } }).success).toBe(false);
  });
});
