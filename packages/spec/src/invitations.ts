import { z } from 'zod';
import { ApiKeyCreated } from './api-keys.js';
import { idSchema, pageOf, Timestamp } from './common.js';
import { Member } from './members.js';
import { Org } from './orgs.js';
import { Role } from './scopes.js';

/**
 * An invitation to join an org. Nobody becomes a member without accepting: an invitee who already has an
 * account accepts with one of their own keys; one who has none signs up with the invitation's token.
 */
export const Invitation = z
  .object({
    id: idSchema('invitation'),
    orgId: idSchema('org'),
    email: z.string(),
    role: Role,
    invitedBy: idSchema('member'),
    status: z.enum(['pending', 'accepted', 'revoked', 'expired']),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    acceptedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Invitation' });
export type Invitation = z.infer<typeof Invitation>;
export const InvitationList = pageOf(Invitation);
export type InvitationList = z.infer<typeof InvitationList>;

export const InvitationCreateRequest = z
  .object({
    email: z.email().max(320),
    role: Role.default('member'),
    expiresInDays: z.number().int().min(1).max(30).default(7),
  })
  .strict();
export type InvitationCreateRequest = z.input<typeof InvitationCreateRequest>;
/** The token is shown this once: hand it to the invitee, who accepts with it. */
export const InvitationCreated = z
  .object({
    invitation: Invitation,
    token: z.string().meta({ description: 'Shown only here; the invitee accepts with it' }),
  })
  .meta({ id: 'InvitationCreated' });
export type InvitationCreated = z.infer<typeof InvitationCreated>;

export const InvitationAcceptRequest = z.object({ token: z.string().min(1).max(200) }).strict();
export type InvitationAcceptRequest = z.infer<typeof InvitationAcceptRequest>;
/** Accepting makes the invitee a member and gives them a key for the org, shown this once. */
export const InvitationAccepted = z
  .object({ org: Org, member: Member, apiKey: ApiKeyCreated })
  .meta({ id: 'InvitationAccepted' });
export type InvitationAccepted = z.infer<typeof InvitationAccepted>;

export const InvitationParams = z.object({ invitationId: idSchema('invitation') });
