import { DomainError } from '../errors.js';
import { nestingOf } from '../json-nesting.js';
import { expressionLimits } from './expressions.js';

/**
 * The deepest a JSON document given to workflows may nest: a run's input, a trigger's, a graph's configs, an
 * input schema, a hook's body. Expressions cannot read a value deeper than this anyway, and past a few thousand
 * levels what the server does with a document it took (`JSON.stringify`, walking a graph's templates, compiling a
 * schema) runs out of stack: refused where it arrives, it is a 400 naming the field, never a 500.
 */
export const maxJsonNesting = expressionLimits.maxNesting;

export { nestingOf };

/** Throws validation_failed when `value` (the request body's `field`, or the whole body) nests too deep. */
export function refuseDeepJson(value: unknown, field?: string): void {
  if (nestingOf(value) > maxJsonNesting)
    throw new DomainError(
      'validation_failed',
      `${field ? `body.${field}` : 'the body'} nests deeper than ${maxJsonNesting} levels`,
      { location: 'body', ...(field ? { field } : {}), maxNesting: maxJsonNesting },
    );
}
