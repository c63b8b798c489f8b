/**
 * A node's config form, made from its JSON Schema (the spec's `nodeConfigSchemas`, converted at build time: see
 * vite.config.ts): one field per property, in the schema's order, its widget from the property's type, whether
 * it is required, its limits, default and description from the schema. What a schema cannot say (a friendlier
 * label, a textarea for a long text, a picker of agents or tools) is layered on per field name; a property the
 * schema gains shows up in the form without a change here.
 */

export type FieldKind = 'text' | 'textarea' | 'expression' | 'number' | 'select' | 'checkbox' | 'json' | 'list';

export interface FieldDef {
  name: string;
  label: string;
  kind: FieldKind;
  required?: boolean;
  options?: readonly string[];
  defaultValue?: unknown;
  hint?: string;
  /** A datalist of names to offer (agents, tools). */
  suggest?: 'agents' | 'tools';
  /** Limits from the schema, checked in the form before a save. */
  minimum?: number;
  maximum?: number;
  integer?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  maxItems?: number;
}

/** The parts of JSON Schema the node schemas use. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  maxItems?: number;
  items?: JsonSchema;
}

/** What the schema cannot say about a field: its label, a better widget, a picker, a longer hint. */
export type FieldPresentation = Partial<Pick<FieldDef, 'label' | 'kind' | 'hint' | 'suggest'>>;

/** `timeoutSeconds` → "Timeout seconds": a readable label for a field nobody has named yet. */
export function labelOf(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[-_]+/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1).toLowerCase();
}

function widgetOf(property: JsonSchema): FieldKind {
  if (property.enum) return 'select';
  switch (property.type) {
    case 'boolean':
      return 'checkbox';
    case 'integer':
    case 'number':
      return 'number';
    case 'array':
      // A list of strings one a line; anything else as JSON.
      return property.items?.type === 'string' ? 'list' : 'json';
    case 'object':
      return 'json';
    case 'string':
      return 'text';
    default:
      return 'json';
  }
}

/**
 * The fields of a config schema. A union of objects (a delay: seconds, or until) gives the fields of every
 * branch, none required on its own: the form says which one in the hint, and the server checks the whole.
 */
export function fieldsFromSchema(schema: JsonSchema, presentation: Record<string, FieldPresentation> = {}): FieldDef[] {
  const branches = schema.anyOf ?? [schema];
  const required = branches.length === 1 ? new Set(schema.required ?? []) : new Set<string>();
  const fields: FieldDef[] = [];
  const seen = new Set<string>();
  for (const branch of branches)
    for (const [name, property] of Object.entries(branch.properties ?? {})) {
      if (seen.has(name)) continue;
      seen.add(name);
      const shown = presentation[name] ?? {};
      const field: FieldDef = {
        name,
        label: shown.label ?? labelOf(name),
        kind: shown.kind ?? widgetOf(property),
        ...(required.has(name) ? { required: true } : {}),
        ...(property.enum ? { options: property.enum.map(String) } : {}),
        ...(property.default !== undefined ? { defaultValue: property.default } : {}),
        ...((shown.hint ?? property.description) ? { hint: shown.hint ?? property.description } : {}),
        ...(shown.suggest ? { suggest: shown.suggest } : {}),
        ...(property.minimum !== undefined ? { minimum: property.minimum } : {}),
        ...(property.maximum !== undefined ? { maximum: property.maximum } : {}),
        ...(property.type === 'integer' ? { integer: true } : {}),
        ...(property.minLength !== undefined ? { minLength: property.minLength } : {}),
        ...(property.maxLength !== undefined ? { maxLength: property.maxLength } : {}),
        ...(property.pattern !== undefined ? { pattern: property.pattern } : {}),
        ...(property.maxItems !== undefined ? { maxItems: property.maxItems } : {}),
      };
      fields.push(field);
    }
  return fields;
}

/**
 * What is wrong with a field's value by its schema's limits, said before a save (the server checks the whole
 * graph again at save, with expressions, agents and tools); undefined when nothing is.
 */
export function fieldProblem(field: FieldDef, value: unknown): string | undefined {
  const missing = value === undefined || value === null || value === '';
  if (missing) return field.required ? 'required' : undefined;
  if (field.kind === 'number') {
    if (typeof value !== 'number' || Number.isNaN(value)) return 'a number';
    if (field.integer && !Number.isInteger(value)) return 'a whole number';
    if (field.minimum !== undefined && value < field.minimum) return `at least ${field.minimum}`;
    if (field.maximum !== undefined && value > field.maximum) return `at most ${field.maximum}`;
    return undefined;
  }
  if (typeof value === 'string') {
    if (field.minLength !== undefined && value.length < field.minLength)
      return field.minLength === 1 ? 'required' : `at least ${field.minLength} characters`;
    if (field.maxLength !== undefined && value.length > field.maxLength) return `at most ${field.maxLength} characters`;
    // An expression part is checked by the server once evaluated, not against the pattern.
    if (field.pattern !== undefined && !value.includes('{{') && !new RegExp(field.pattern, 'u').test(value))
      return field.suggest === 'agents' ? 'a slug: lowercase letters, digits and dashes' : 'not in the expected form';
    if (field.options && !field.options.includes(value)) return `one of ${field.options.join(', ')}`;
  }
  if (Array.isArray(value) && field.maxItems !== undefined && value.length > field.maxItems)
    return `at most ${field.maxItems} entries`;
  return undefined;
}
