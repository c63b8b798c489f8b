import { z } from 'zod';
import { DisplayName, idSchema, pageOf, Slug, Timestamp } from './common.js';

export const Project = z
  .object({
    id: idSchema('project'),
    orgId: idSchema('org'),
    name: z.string(),
    slug: z.string(),
    isDefault: z.boolean(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Project' });
export type Project = z.infer<typeof Project>;
export const ProjectList = pageOf(Project);
export type ProjectList = z.infer<typeof ProjectList>;

export const ProjectCreateRequest = z.object({ name: DisplayName, slug: Slug.optional() }).strict();
export type ProjectCreateRequest = z.infer<typeof ProjectCreateRequest>;
export const ProjectUpdateRequest = z.object({ name: DisplayName }).strict();
export type ProjectUpdateRequest = z.infer<typeof ProjectUpdateRequest>;
export const ProjectParams = z.object({ projectId: idSchema('project') });
