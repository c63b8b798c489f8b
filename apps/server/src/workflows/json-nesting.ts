import { DomainError } from '../errors.js';
import { expressionLimits } from './expressions.js';

/**
 * The deepest a JSON document given to workflows may nest: a run's input, a trigger's, a graph's configs, an
 * input schema, a hook's body. Expressions cannot read a value deeper than this anyway, and past a few thousand
 * levels what the server does with a document it took (`JSON.stringify`, walking a graph's templates, compiling a
 * schema) runs out of stack: refused where it arrives, it is a 400 naming the field, never a 500.
 */
export const maxJsonNesting = expressionLimits.maxNesting;

/** How deep `value` nests (a scalar 0, `[]` or `{}` 1), counted without recursion; stops once past `limit`. */
export function nestingOf(value: unknown, limit: number = maxJsonNesting): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, level]);
  }
  return deepest;
}

/** Throws validation_failed when `value` (the request body's `field`, or the whole body) nests too deep. */
export function refuseDeepJson(value: unknown, field?: string): void {
  if (nestingOf(value) > maxJsonNesting)
    throw new DomainError(
      'validation_failed',
      `${field ? `body.${field}` : 'the body'} nests deeper than ${maxJsonNesting} levels`,
      { location: 'body', ...(field ? { field } : {}), maxNesting: maxJsonNesting },
    );
}
