/**
 * What the generated forms (schema-form.tsx) know of JSON Schema, with no React: the part of a schema they read,
 * a value's defaults, a union's variants and what is wrong with a value. The schemas come from zod's
 * `toJSONSchema` (a tool action's parameters, a workflow node's config), so this reads what it writes.
 */

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
}

export type SchemaKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'object' | 'variants' | 'list' | 'json';

/** The type a schema names, leaving out `null` (an optional value is simply left out of the form). */
function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((one) => one !== 'null') : schema.type;
}

/** A union's branches, when there is one. */
export function branchesOf(schema: JsonSchema): JsonSchema[] | undefined {
  const branches = schema.anyOf ?? schema.oneOf;
  return branches?.length ? branches : undefined;
}

/**
 * The widget family of a schema: a scalar, an enum, an object with named properties (its own fields), a union
 * of such objects (a choice of one, then its fields), a list of strings (one a line), or JSON text for anything
 * else (records, arrays of objects, unions of scalars).
 */
export function kindOf(schema: JsonSchema): SchemaKind {
  if (schema.enum?.length) return 'enum';
  const branches = branchesOf(schema);
  if (branches)
    return branches.every((branch) => typeOf(branch) === 'object' && branch.properties) ? 'variants' : 'json';
  const type = typeOf(schema);
  if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean') return type;
  if (type === 'object' && schema.properties && !schema.additionalProperties) return 'object';
  if (type === 'array' && typeOf(schema.items ?? {}) === 'string' && !schema.items?.enum) return 'list';
  return 'json';
}

/** `timeoutSeconds` → "Timeout seconds", `issue_number` → "Issue number": a property's label unless one is given. */
export function labelOf(name: string, schema?: JsonSchema): string {
  if (schema?.title) return schema.title;
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[-_]+/g, ' ')
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1).toLowerCase();
}

/**
 * A union's branch is named by its key: the first property it requires (else has) that no other branch has, so
 * a delay is `seconds` or `until`. Undefined when the branches share all their keys.
 */
export function variantKey(branches: JsonSchema[], index: number): string | undefined {
  const branch = branches[index];
  if (!branch) return undefined;
  const others = new Set(branches.flatMap((other, at) => (at === index ? [] : Object.keys(other.properties ?? {}))));
  const keys = [...(branch.required ?? []), ...Object.keys(branch.properties ?? {})];
  return keys.find((key) => !others.has(key));
}

/** The branch a value is in: the first whose key it holds; undefined when it holds none. */
export function variantOf(branches: JsonSchema[], value: unknown): number | undefined {
  if (!isPlainObject(value)) return undefined;
  const index = branches.findIndex((_, at) => {
    const key = variantKey(branches, at);
    return key !== undefined && value[key] !== undefined;
  });
  return index >= 0 ? index : undefined;
}

/** The names of an object's properties (of all its branches, for a union). */
export function fieldNames(schema: JsonSchema): Set<string> {
  return new Set((branchesOf(schema) ?? [schema]).flatMap((branch) => Object.keys(branch.properties ?? {})));
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A new value's properties: each one's default (the first branch's, for a union). */
export function defaultsOf(schema: JsonSchema): Record<string, unknown> {
  const branch = branchesOf(schema)?.[0] ?? schema;
  const values: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(branch.properties ?? {}))
    if (property.default !== undefined) values[name] = structuredClone(property.default);
  return values;
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/**
 * What is wrong with a value by its schema, in words for a form ("at least 1", "required"), with the path of a
 * nested part first ("FOO: at most 32768 characters"); undefined when nothing is. A missing value is not checked
 * here: whether it may be missing is its parent's `required`.
 */
export function problemOf(schema: JsonSchema, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const branches = branchesOf(schema);
  if (branches) {
    if (branches.some((branch) => problemOf(branch, value) === undefined)) return undefined;
    const branch = branches[variantOf(branches, value) ?? 0] ?? {};
    return problemOf(branch, value);
  }
  if (schema.const !== undefined && value !== schema.const) return `must be ${JSON.stringify(schema.const)}`;
  if (schema.enum?.length && !schema.enum.includes(value)) return `one of ${schema.enum.map(String).join(', ')}`;
  switch (typeOf(schema)) {
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'a number';
      if (typeOf(schema) === 'integer' && !Number.isInteger(value)) return 'a whole number';
      if (schema.minimum !== undefined && value < schema.minimum) return `at least ${schema.minimum}`;
      if (schema.maximum !== undefined && value > schema.maximum) return `at most ${schema.maximum}`;
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
        return `more than ${schema.exclusiveMinimum}`;
      if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
        return `less than ${schema.exclusiveMaximum}`;
      return undefined;
    case 'string':
      if (typeof value !== 'string') return 'text';
      if (schema.minLength !== undefined && value.length < schema.minLength)
        return schema.minLength === 1 ? 'required' : `at least ${schema.minLength} characters`;
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        return `at most ${schema.maxLength} characters`;
      if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
        return `does not match ${schema.pattern}`;
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'true or false';
    case 'array': {
      if (!Array.isArray(value)) return 'a list, [ … ]';
      if (schema.minItems !== undefined && value.length < schema.minItems) return `at least ${schema.minItems} entries`;
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return `at most ${schema.maxItems} entries`;
      for (const [index, item] of value.entries()) {
        const problem = schema.items ? problemOf(schema.items, item) : undefined;
        if (problem) return `entry ${index + 1}: ${problem}`;
      }
      return undefined;
    }
    case 'object': {
      if (!isPlainObject(value)) return 'an object, { … }';
      const nested = Object.entries(fieldProblems(schema, value))[0];
      return nested ? `${nested[0]}: ${nested[1]}` : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * What is wrong with each property of an object (of the branch it is in, for a union), by property name: a
 * required one missing, or what `problemOf` says of its value; keys the schema does not allow too. Empty when
 * the whole value is fine.
 */
export function fieldProblems(schema: JsonSchema, value: Record<string, unknown>): Record<string, string> {
  const branches = branchesOf(schema);
  const object = branches ? (branches[variantOf(branches, value) ?? 0] ?? {}) : schema;
  const properties = object.properties ?? {};
  const problems: Record<string, string> = {};
  for (const name of object.required ?? []) if (isMissing(value[name])) problems[name] = 'required';
  for (const [name, item] of Object.entries(value)) {
    if (problems[name] || item === undefined) continue;
    const property = properties[name];
    if (property) {
      const problem = problemOf(property, item);
      if (problem) problems[name] = problem;
      continue;
    }
    const extra = object.additionalProperties;
    if (extra === false) problems[name] = 'not a field of this form';
    else if (object.propertyNames && problemOf(object.propertyNames, name))
      problems[name] = `the name ${problemOf(object.propertyNames, name)}`;
    else if (extra && extra !== true) {
      const problem = problemOf(extra, item);
      if (problem) problems[name] = problem;
    }
  }
  return problems;
}
