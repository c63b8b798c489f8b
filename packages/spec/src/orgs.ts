import { z } from 'zod';
import { ApiKeyCreated } from './api-keys.js';
import { DisplayName, idSchema, pageOf, Slug, Timestamp } from './common.js';
import { Project } from './projects.js';
import { Role } from './scopes.js';

export const Org = z
  .object({ id: idSchema('org'), name: z.string(), slug: z.string(), role: Role, createdAt: Timestamp })
  .meta({ id: 'Org' });
export type Org = z.infer<typeof Org>;
export const OrgList = pageOf(Org);
export type OrgList = z.infer<typeof OrgList>;

export const OrgCreateRequest = z.object({ name: DisplayName, slug: Slug.optional() }).strict();
export type OrgCreateRequest = z.infer<typeof OrgCreateRequest>;
/** A new org comes with its default project and an owner key for it, shown this once. */
export const OrgCreated = z.object({ org: Org, project: Project, apiKey: ApiKeyCreated }).meta({ id: 'OrgCreated' });
export type OrgCreated = z.infer<typeof OrgCreated>;

export const OrgUpdateRequest = z.object({ name: DisplayName }).strict();
export type OrgUpdateRequest = z.infer<typeof OrgUpdateRequest>;
export const OrgParams = z.object({ orgId: idSchema('org') });

/** What an org stores, counted against its storage quota: every byte here is on the host's disk or may be. */
export const StorageUsage = z
  .object({
    /** The quota in bytes; null when none is set. */
    quotaBytes: z.number().int().nullable(),
    /** All of the below together. */
    usedBytes: z.number().int(),
    /** The disk limits of the org's live sandboxes (what each may fill, not what it has written). */
    sandboxDiskBytes: z.number().int(),
    sandboxes: z.number().int(),
    /** What the org's snapshots hold on disk. */
    snapshotBytes: z.number().int(),
    snapshots: z.number().int(),
    /** What the org's workspaces hold, counted now (sandbox writes into a mounted workspace included). */
    workspaceBytes: z.number().int(),
    workspaces: z.number().int(),
  })
  .meta({ id: 'StorageUsage' });
export type StorageUsage = z.infer<typeof StorageUsage>;
