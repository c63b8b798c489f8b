import { z } from 'zod';
import { DisplayName, idSchema, listOf, Slug, Timestamp } from './common.js';

/**
 * Persistent storage of an org. `org` workspaces are shared and can be mounted into sandboxes; `personal` ones
 * belong to one member, are seen only by that member and the org's admins, and are never mounted.
 */
export const WorkspaceKind = z.enum(['org', 'personal']);
export const Workspace = z
  .object({
    id: idSchema('workspace'),
    name: z.string(),
    slug: z.string(),
    kind: WorkspaceKind,
    ownerMemberId: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Workspace' });
export type Workspace = z.infer<typeof Workspace>;
export const WorkspaceList = listOf(Workspace);
export const WorkspaceCreateRequest = z
  .object({ name: DisplayName, slug: Slug.optional(), kind: WorkspaceKind.default('org') })
  .strict();
export type WorkspaceCreateRequest = z.input<typeof WorkspaceCreateRequest>;
export const WorkspaceRenameRequest = z.object({ name: DisplayName }).strict();
export const WorkspaceParams = z.object({ workspaceId: idSchema('workspace') });
export const WorkspaceUsage = z
  .object({ bytes: z.number().int(), files: z.number().int(), directories: z.number().int() })
  .meta({ id: 'WorkspaceUsage' });
export type WorkspaceUsage = z.infer<typeof WorkspaceUsage>;

/** Where a workspace appears in a sandbox: `/workspace` or a path under it. */
export const WorkspaceMount = z
  .object({
    workspaceId: idSchema('workspace'),
    path: z
      .string()
      .max(4096)
      .regex(/^\/workspace(\/[^/\0]+)*$/, { message: 'must be /workspace or a path under it' })
      .refine((path) => !path.split('/').some((part) => part === '..' || part === '.'), {
        message: 'no . or .. segments',
      })
      .default('/workspace'),
  })
  .strict();
export type WorkspaceMount = z.input<typeof WorkspaceMount>;
