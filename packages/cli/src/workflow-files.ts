import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import {
  defineWorkflow,
  describeGraphProblem,
  ValidationError,
  type WorkflowDefinition,
  type WorkflowNodeInput,
} from '@runtools/sdk';
import { type GraphProblem, workflowSlug as slugOfName } from '@runtools/spec';
import { importDefault } from './definition-import.js';
import { UserError } from './errors.js';

const moduleExtensions = new Set(['.ts', '.mts', '.js', '.mjs']);

/**
 * What a workflow file holds: a `.json` file's value, or a `.ts`/`.js` file's default export (a
 * `defineWorkflow(…)` or a plain `{ name, graph }` object).
 */
export async function readWorkflowFile(path: string): Promise<unknown> {
  const file = resolve(path);
  const extension = extname(file).toLowerCase();
  if (extension === '.json') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UserError(`cannot read ${path}: ${(error as Error).message}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new UserError(`${path} is not JSON: ${(error as Error).message}`);
    }
  }
  if (!moduleExtensions.has(extension))
    throw new UserError(`${path}: a workflow file is .json, .ts, .mts, .js or .mjs`);
  let value: unknown;
  try {
    value = await importDefault(file);
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new UserError(`cannot load ${path}: ${(error as Error).message}`);
  }
  if (value === undefined)
    throw new UserError(`${path} has no default export`, 'export default defineWorkflow({ name, graph })');
  return value;
}

/**
 * A definition checked as `defineWorkflow` checks it (name, slug and the graph's structure), whether the
 * file called it or exported a plain `{ name, graph }` object.
 */
export function checkWorkflowDefinition(value: unknown): WorkflowDefinition {
  if (!value || typeof value !== 'object' || !('graph' in value))
    throw new UserError(
      'no workflow here: expected { name, graph: { nodes, edges } }',
      'export default defineWorkflow({ name, graph }) (or a .json file with { "name", "graph" })',
    );
  return defineWorkflow(value as WorkflowDefinition<readonly WorkflowNodeInput[]>);
}

/** A workflow file's definition, checked as `runtools deploy` checks it. */
export async function loadWorkflowFile(path: string): Promise<WorkflowDefinition> {
  const value = await readWorkflowFile(path);
  try {
    return checkWorkflowDefinition(value);
  } catch (error) {
    if (error instanceof UserError) throw new UserError(`${path}: ${error.message}`, error.hint);
    throw error;
  }
}

/** The slug the server gives a workflow saved without one: its name, as the server's rule makes it ('Review PR' → review-pr). */
export function workflowSlug(definition: { name: string; slug?: string | undefined }): string {
  return definition.slug ?? slugOfName(definition.name);
}

/** The graph problems an error carries (a save or a definition refused for its graph), if any. */
export function graphProblems(error: unknown): GraphProblem[] | undefined {
  if (!(error instanceof ValidationError)) return undefined;
  const problems = error.details?.problems;
  return Array.isArray(problems) && problems.length > 0 ? (problems as GraphProblem[]) : undefined;
}

/**
 * Runs `action`; a graph refused with its problems prints each on its own line on stderr and becomes one
 * user error (exit 2) saying how many there were.
 */
export async function reportingGraphProblems<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const problems = graphProblems(error);
    if (!problems) throw error;
    for (const problem of problems) process.stderr.write(`problem: ${describeGraphProblem(problem)}\n`);
    throw new UserError(`${what}: the graph has ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  }
}

/** A JSON object given on the command line (`--input`), or in a file (`--input-file`, `-` for stdin). */
export async function inputFromFlags(
  flags: { input?: string; inputFile?: string },
  readStdin: () => Promise<string>,
): Promise<Record<string, unknown> | undefined> {
  if (flags.input !== undefined && flags.inputFile !== undefined)
    throw new UserError('give --input or --input-file, not both');
  let text: string;
  let what: string;
  if (flags.input !== undefined) {
    text = flags.input;
    what = '--input';
  } else if (flags.inputFile !== undefined) {
    what = flags.inputFile;
    if (flags.inputFile === '-') {
      if (process.stdin.isTTY) throw new UserError('--input-file - reads stdin, and stdin is a terminal');
      text = await readStdin();
    } else {
      try {
        text = readFileSync(flags.inputFile, 'utf8');
      } catch (error) {
        throw new UserError(`cannot read ${flags.inputFile}: ${(error as Error).message}`);
      }
    }
  } else {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${what} must be a JSON object: ${(error as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new UserError(`${what} must be a JSON object, e.g. '{"prompt": "Review PR #123"}'`);
  return value as Record<string, unknown>;
}

/** `--version N|latest` (and `draft` where a run may take it). */
export function versionFlag<Draft extends boolean>(
  value: string | undefined,
  allowDraft: Draft,
): number | 'latest' | (Draft extends true ? 'draft' : never) | undefined {
  if (value === undefined) return undefined;
  if (value === 'latest' || (allowDraft && value === 'draft')) return value as 'latest';
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new UserError(`--version must be a version number, latest${allowDraft ? ' or draft' : ''}, not "${value}"`);
  return number;
}
