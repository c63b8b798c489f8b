import type { InvitationAccepted } from '@runtools/spec';
import type { TestServer } from './server.js';

/**
 * A new person in the org of `key` (the admin key unless given): invited with `role`, and signed up with the
 * invitation's token, as someone with no account does. Answers what the sign-up answered: the member and
 * their first key.
 */
export async function addMember(
  server: TestServer,
  email: string,
  role: 'owner' | 'admin' | 'member',
  key: string = server.adminKey,
): Promise<InvitationAccepted> {
  const invited = await server.request('POST', '/v1/invitations', { key, body: { email, role } });
  if (invited.status !== 201) throw new Error(`could not invite ${email}: ${invited.status} ${await invited.text()}`);
  const { token } = (await invited.json()) as { token: string };
  const joined = await server.request('POST', '/v1/invitations/sign-up', { key: null, body: { token } });
  if (joined.status !== 201) throw new Error(`${email} could not sign up: ${joined.status} ${await joined.text()}`);
  return (await joined.json()) as InvitationAccepted;
}
