import { UserError } from '../../errors.js';

/** Collects repeated `--env K=V` / `--metadata K=V` flags into a record. */
export function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const index = value.indexOf('=');
  if (index <= 0) throw new UserError(`expected KEY=VALUE, got "${value}"`);
  return { ...previous, [value.slice(0, index)]: value.slice(index + 1) };
}
