import { z } from 'zod';
import { ApiKeyCreated } from './api-keys.js';
import { DisplayName, idSchema, listOf, Timestamp } from './common.js';
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
export const MemberList = listOf(Member);
export type MemberList = z.infer<typeof MemberList>;

export const MemberAddRequest = z
  .object({ email: z.email().max(320), name: DisplayName.optional(), role: Role.default('member') })
  .strict();
export type MemberAddRequest = z.input<typeof MemberAddRequest>;
/** Adding a member issues their first API key (scope: everything their role allows), shown this once. */
export const MemberAdded = z.object({ member: Member, apiKey: ApiKeyCreated }).meta({ id: 'MemberAdded' });
export type MemberAdded = z.infer<typeof MemberAdded>;
export const MemberUpdateRequest = z.object({ role: Role }).strict();
export type MemberUpdateRequest = z.infer<typeof MemberUpdateRequest>;
export const MemberParams = z.object({ memberId: idSchema('member') });
