import type { RunTools } from '@runtools/sdk';
import { exitCodes, UserError } from '../../errors.js';

/** `--project`: where a new resource goes, or which project's a list shows. */
export const projectFlag = ['--project <project>', 'a project of the org: its slug, name or id'] as const;

/** Whether `ref` names this project: its slug, its name or its id. */
export function namedBy(ref: string): (project: { id: string; slug: string; name: string }) => boolean {
  return (project) => project.slug === ref || project.name === ref || project.id === ref;
}

/**
 * The id of the project a user names by slug, name or id. An id is passed on as given (the server answers
 * `project_not_found` for one that is not the org's); a slug or name is looked up among the org's projects.
 */
export async function projectIdOf(rt: RunTools, ref: string): Promise<string> {
  if (/^prj_[a-z2-7]{20}$/.test(ref)) return ref;
  const found = (await rt.projects.list()).find(namedBy(ref));
  if (!found) throw new UserError(`no project ${ref} in this org`, 'runtools project list', exitCodes.notFound);
  return found.id;
}

/** `{ projectId }` for a request when `--project` was given, `{}` otherwise. */
export async function inProject(rt: RunTools, ref: string | undefined): Promise<{ projectId?: string }> {
  return ref === undefined ? {} : { projectId: await projectIdOf(rt, ref) };
}
