import { z } from 'zod';
import { idSchema, pageOf, Timestamp } from './common.js';
import { Role } from './scopes.js';

export const Member = z
  .object({
    id: idSchema('member'),
    orgId: idSchema('org'),
    userId: idSchema('user'),
    email: z.string(),
    name: z.string().nullable(),
    role: Role,
    createdAt: Timestamp,
  })
  .meta({ id: 'Member' });
export type Member = z.infer<typeof Member>;
export const MemberList = pageOf(Member);
export type MemberList = z.infer<typeof MemberList>;

/** People join an org by accepting an invitation (`./invitations.ts`), never by being added. */
export const MemberUpdateRequest = z.object({ role: Role }).strict();
export type MemberUpdateRequest = z.infer<typeof MemberUpdateRequest>;
export const MemberParams = z.object({ memberId: idSchema('member') });
