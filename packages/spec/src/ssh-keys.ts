import { z } from 'zod';
import { DisplayName, idSchema, pageOf, Timestamp } from './common.js';

export const SshKeyAddRequest = z
  .object({
    name: DisplayName,
    publicKey: z
      .string()
      .trim()
      .min(1)
      .max(16384)
      .meta({ description: 'One OpenSSH public key line, as in ~/.ssh/id_ed25519.pub' }),
  })
  .strict();
export type SshKeyAddRequest = z.infer<typeof SshKeyAddRequest>;

export const SshKey = z
  .object({
    id: idSchema('sshKey'),
    name: z.string(),
    algorithm: z.string(),
    bits: z.number().int().nullable(),
    fingerprint: z.string().meta({ description: 'OpenSSH SHA256 fingerprint, as `ssh-keygen -lf` prints it' }),
    publicKey: z.string(),
    comment: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'SshKey' });
export type SshKey = z.infer<typeof SshKey>;
export const SshKeyList = pageOf(SshKey);
export type SshKeyList = z.infer<typeof SshKeyList>;
export const SshKeyParams = z.object({ sshKeyId: idSchema('sshKey') });
