import { z } from 'zod';
import { DisplayName, idPrefixes, idSchema, listOf, ProjectField, pageOf, Slug, Timestamp } from './common.js';

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
    projectId: idSchema('project'),
    createdAt: Timestamp,
  })
  .meta({ id: 'Workspace' });
export type Workspace = z.infer<typeof Workspace>;
export const WorkspaceList = pageOf(Workspace);
export const WorkspaceCreateRequest = z
  .object({ name: DisplayName, slug: Slug.optional(), kind: WorkspaceKind.default('org'), ...ProjectField })
  .strict();
export type WorkspaceCreateRequest = z.input<typeof WorkspaceCreateRequest>;
/** A new name, another project, or both (its slug and id stay). */
export const WorkspaceRenameRequest = z
  .object({
    name: DisplayName.optional(),
    projectId: idSchema('project').optional().meta({ description: 'move it to this project of the org' }),
  })
  .strict()
  .refine((body) => body.name !== undefined || body.projectId !== undefined, {
    message: 'give a name, a projectId or both',
  });
/**
 * A workspace named by its id (`wsp_…`) or its slug, wherever one is accepted. The two cannot be confused: an id
 * has an underscore after its prefix, and a slug has no underscore at all.
 */
export const WorkspaceRef = z
  .string()
  .max(63)
  .regex(new RegExp(`^(?:${idPrefixes.workspace}_[a-z2-7]{20}|[a-z0-9]+(?:-[a-z0-9]+)*)$`), {
    message: `a workspace id (${idPrefixes.workspace}_…) or slug`,
  })
  .meta({ description: `a workspace id (${idPrefixes.workspace}_…) or slug`, example: 'docs-project' });
export const WorkspaceParams = z.object({ workspaceId: WorkspaceRef });
export const WorkspaceUsage = z
  .object({ bytes: z.number().int(), files: z.number().int(), directories: z.number().int() })
  .meta({ id: 'WorkspaceUsage' });
export type WorkspaceUsage = z.infer<typeof WorkspaceUsage>;

/** Where a workspace appears in a sandbox: `/workspace` or a path under it. */
export const WorkspaceMount = z
  .object({
    /** Its id or slug; the sandbox records the id. */
    workspaceId: WorkspaceRef,
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

/** A path in a workspace: `/` is its root. Checked on the server: no NUL, `.`/`..`, over-long names, escapes. */
export const WorkspacePath = z.string().min(1).max(8192).meta({ example: '/src/main.ts' });
export const WorkspaceEntry = z
  .object({
    name: z.string(),
    path: z.string(),
    type: z.enum(['file', 'dir', 'symlink', 'other']),
    size: z.number().int(),
    mode: z.number().int(),
    modifiedAt: Timestamp,
  })
  .meta({ id: 'WorkspaceEntry' });
export type WorkspaceEntry = z.infer<typeof WorkspaceEntry>;
export const WorkspaceEntryList = listOf(WorkspaceEntry);
export const WorkspaceFileParams = WorkspaceParams;
export const WorkspaceListQuery = z.object({
  path: WorkspacePath.default('/'),
  showHidden: z.enum(['true', 'false']).optional().meta({ description: 'include names starting with a dot' }),
});
export const WorkspacePathQuery = z.object({ path: WorkspacePath });
/** The rest of a documented route's path after `/files/` or `/upload/`: a workspace path without its leading `/`. */
export const WorkspacePathParams = WorkspaceParams.extend({
  path: z.string().min(1).max(8192).meta({ description: 'a path in the workspace, slashes included', example: 'src' }),
});
/** `GET /v1/workspaces/{workspaceId}/direct?id=/src/README.md&download=true`: `id` is the file's workspace path. */
export const WorkspaceDirectQuery = z.object({
  id: WorkspacePath,
  download: z.enum(['true', 'false']).optional().meta({ description: 'as an attachment (Content-Disposition)' }),
});
export const WorkspaceDownloadQuery = z.object({
  path: WorkspacePath,
  download: z.enum(['true', 'false']).optional().meta({ description: 'as an attachment (Content-Disposition)' }),
});
export const WorkspacePathBody = z.object({ path: WorkspacePath }).strict();
export const WorkspaceMoveBody = z.object({ from: WorkspacePath, to: WorkspacePath }).strict();
export const WorkspaceRenameFileBody = z
  .object({
    path: WorkspacePath,
    name: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^/\0]+$/, { message: 'a name, no /' }),
  })
  .strict();
export const WorkspaceFileBytes = z.string().meta({ format: 'binary' });
