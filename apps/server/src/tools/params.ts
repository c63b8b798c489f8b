import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { DomainError } from '../errors.js';

/**
 * Checks a call's params against its action's JSON Schema (draft 2020-12, with Ajv) before anything runs.
 * Schemas are compiled once per action and kept; a schema Ajv cannot compile is refused when it is defined.
 */
export class ParamsValidator {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: true });
  private readonly compiled = new Map<string, { schema: object; validate: ValidateFunction }>();

  /** Compiles a schema, or throws the reason it is not a usable JSON Schema. */
  compile(schema: object): ValidateFunction {
    return this.ajv.compile(schema);
  }

  /** Fills the schema's defaults into `params` and refuses params the schema does not accept. */
  check(key: string, schema: object, params: Record<string, unknown>): void {
    let entry = this.compiled.get(key);
    if (!entry || entry.schema !== schema) {
      entry = { schema, validate: this.compile(schema) };
      this.compiled.set(key, entry);
    }
    if (entry.validate(params)) return;
    const errors = (entry.validate.errors ?? []).slice(0, 20).map((error) => ({
      path: error.instancePath || '/',
      message: error.message ?? 'invalid',
      ...(error.params && Object.keys(error.params).length > 0 ? { params: error.params } : {}),
    }));
    throw new DomainError(
      'tool_params_invalid',
      `params do not match ${key}'s schema: ${errors.map((error) => `${error.path} ${error.message}`).join('; ')}`,
      { errors },
    );
  }
}
