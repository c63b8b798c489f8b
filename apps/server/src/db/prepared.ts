import type { Compilable, CompiledQuery } from 'kysely';
import type { Db } from './database.js';

/**
 * A read built and compiled once, then run with fresh parameters on the dialect's fastest read path.
 * Building and compiling a Kysely query cost more than running it on the hot paths (the key lookup on every
 * request, secret listing), so those compile at startup. The query is built with placeholder values whose
 * order is the parameters' order.
 */
export function prepareRead<Row, Parameters extends readonly unknown[]>(
  db: Db,
  query: Compilable<Row>,
  placeholders: Parameters,
): (...parameters: Parameters) => Promise<Row[]> {
  const compiled: CompiledQuery<Row> = query.compile();
  if (compiled.parameters.length !== placeholders.length) {
    throw new Error(`prepared read has ${compiled.parameters.length} parameters, expected ${placeholders.length}`);
  }
  return (...parameters) => db.read({ ...compiled, parameters });
}
