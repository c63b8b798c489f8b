import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * A workflow's input schema, compiled once per schema text. Each schema gets an Ajv instance of its own, so a
 * schema's `$id` never meets another's (a shared instance refuses the second schema with the same id, and keeps
 * every schema it ever compiled). The cache is bounded. Regular expressions (`pattern`, `patternProperties`)
 * are refused: Ajv runs them on the native engine in the control plane, where a crafted input can make one run
 * for minutes (the expressions' own regular expressions run on RE2).
 */

const maxCached = 500;
const compiled = new Map<string, ValidateFunction>();

/** Compiles (or finds) the validator of a schema given as JSON text; throws with Ajv's message when it cannot. */
export function inputValidator(schemaText: string): ValidateFunction {
  if (/"pattern(Properties)?"\s*:/.test(schemaText))
    throw new Error(
      'pattern and patternProperties are not supported (regular expressions would run in the control plane)',
    );
  const cached = compiled.get(schemaText);
  if (cached) {
    compiled.delete(schemaText);
    compiled.set(schemaText, cached);
    return cached;
  }
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(schemaText) as object);
  if (compiled.size >= maxCached) compiled.delete(compiled.keys().next().value as string);
  compiled.set(schemaText, validate);
  return validate;
}

/** Ajv's words for a validator's last errors. */
export function inputErrors(validate: ValidateFunction): string {
  return new Ajv2020().errorsText(validate.errors);
}
