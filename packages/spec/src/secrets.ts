import { z } from 'zod';
import { idSchema, pageOf, Timestamp } from './common.js';

/** Provider keys feed model providers, tool keys feed tool integrations, custom is everything else. */
export const SecretCategory = z.enum(['provider', 'tool', 'custom']).meta({ id: 'SecretCategory' });
export type SecretCategory = z.infer<typeof SecretCategory>;

/** Secret names look like environment variables: `OPENAI_API_KEY`. */
export const SecretName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'letters, digits and underscores, not starting with a digit' });

/** Values are at most 64 KiB of UTF-8. */
export const maxSecretBytes = 65536;
export const SecretValue = z
  .string()
  .min(1)
  .refine((value) => new TextEncoder().encode(value).length <= maxSecretBytes, {
    message: `must be at most ${maxSecretBytes} bytes`,
  });

export const SecretSetRequest = z
  .object({ name: SecretName, value: SecretValue, category: SecretCategory.default('custom') })
  .strict();
export type SecretSetRequest = z.input<typeof SecretSetRequest>;

/** What lists show: never the value. */
export const SecretMetadata = z
  .object({
    id: idSchema('secret'),
    name: z.string(),
    category: SecretCategory,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'SecretMetadata' });
export type SecretMetadata = z.infer<typeof SecretMetadata>;
export const SecretList = pageOf(SecretMetadata);
export type SecretList = z.infer<typeof SecretList>;

export const SecretWithValue = SecretMetadata.extend({ value: z.string() }).meta({ id: 'SecretWithValue' });
export type SecretWithValue = z.infer<typeof SecretWithValue>;
export const SecretParams = z.object({ name: SecretName });
