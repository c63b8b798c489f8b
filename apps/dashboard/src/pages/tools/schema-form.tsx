import { Field } from '../../components/ui';

/** The part of a JSON Schema the generated forms understand; anything else is edited as JSON. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  default?: unknown;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
}

export type FormValues = Record<string, string | boolean>;

function kindOf(schema: JsonSchema): 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json' {
  if (schema.enum?.length) return 'enum';
  const type = Array.isArray(schema.type) ? schema.type.find((one) => one !== 'null') : schema.type;
  if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean') return type;
  return 'json';
}

/** The form's starting values: each property's default, as the inputs hold it (text, or a checkbox's boolean). */
export function initialValues(schema: JsonSchema): FormValues {
  const values: FormValues = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const kind = kindOf(property);
    if (kind === 'boolean') values[name] = property.default === true;
    else if (property.default === undefined) values[name] = '';
    else values[name] = kind === 'json' ? JSON.stringify(property.default, null, 2) : String(property.default);
  }
  return values;
}

/**
 * The object the inputs stand for: empty optional fields left out, numbers and JSON parsed. Throws an Error
 * naming the field when one does not parse.
 */
export function valuesToObject(schema: JsonSchema, values: FormValues): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const kind = kindOf(property);
    const value = values[name];
    if (kind === 'boolean') {
      if (value === true || schema.required?.includes(name) || property.default !== undefined)
        result[name] = value === true;
      continue;
    }
    if (typeof value !== 'string' || value === '') continue;
    if (kind === 'number' || kind === 'integer') {
      const number = Number(value);
      if (!Number.isFinite(number) || (kind === 'integer' && !Number.isInteger(number)))
        throw new Error(`${name} must be ${kind === 'integer' ? 'a whole number' : 'a number'}`);
      result[name] = number;
    } else if (kind === 'json') {
      try {
        result[name] = JSON.parse(value);
      } catch {
        throw new Error(`${name} must be JSON`);
      }
    } else if (kind === 'enum') {
      const match = property.enum?.find((option) => String(option) === value);
      result[name] = match ?? value;
    } else result[name] = value;
  }
  return result;
}

/**
 * Inputs generated from a JSON Schema object: a text box per string (a password box when `secret` says so), a
 * number box, a checkbox, a select for an enum, a JSON text area for arrays and objects. Labels are the property
 * names (or titles); descriptions are hints.
 */
export function SchemaFields({
  schema,
  values,
  onChange,
  secret,
  hints,
  optionalWhen,
}: {
  schema: JsonSchema;
  values: FormValues;
  onChange: (values: FormValues) => void;
  /** Which string fields are secrets (shown as password inputs). */
  secret?: (name: string) => boolean;
  /** Extra words under a field (e.g. whether a credential is already stored). */
  hints?: Record<string, string>;
  /** Whether a required field may stay empty anyway (a credential already stored). */
  optionalWhen?: (name: string) => boolean;
}) {
  const properties = Object.entries(schema.properties ?? {});
  if (!properties.length) return <p className="muted">No fields.</p>;
  const set = (name: string, value: string | boolean) => onChange({ ...values, [name]: value });
  return (
    <div className="schema-form">
      {properties.map(([name, property]) => {
        const kind = kindOf(property);
        const required = (schema.required?.includes(name) ?? false) && !optionalWhen?.(name);
        const label = property.title ?? name;
        const hint = [property.description, required ? 'required' : undefined, hints?.[name]]
          .filter(Boolean)
          .join(' · ');
        if (kind === 'boolean')
          return (
            <label key={name} className="check">
              <input
                type="checkbox"
                checked={values[name] === true}
                onChange={(event) => set(name, event.target.checked)}
              />{' '}
              {label}
              {hint ? <span className="muted"> ({hint})</span> : null}
            </label>
          );
        const value = typeof values[name] === 'string' ? (values[name] as string) : '';
        return (
          <Field key={name} label={label} hint={hint || undefined}>
            {(id, describedBy) =>
              kind === 'enum' ? (
                <select
                  id={id}
                  aria-describedby={describedBy}
                  required={required}
                  value={value}
                  onChange={(event) => set(name, event.target.value)}
                >
                  <option value="">{required ? 'Choose…' : '(none)'}</option>
                  {property.enum?.map((option) => (
                    <option key={String(option)} value={String(option)}>
                      {String(option)}
                    </option>
                  ))}
                </select>
              ) : kind === 'json' ? (
                <textarea
                  id={id}
                  aria-describedby={describedBy}
                  className="mono"
                  rows={4}
                  required={required}
                  placeholder={property.type === 'array' ? '[]' : '{}'}
                  value={value}
                  onChange={(event) => set(name, event.target.value)}
                />
              ) : (
                <input
                  id={id}
                  aria-describedby={describedBy}
                  type={kind === 'number' || kind === 'integer' ? 'number' : secret?.(name) ? 'password' : 'text'}
                  step={kind === 'integer' ? 1 : kind === 'number' ? 'any' : undefined}
                  min={property.minimum}
                  max={property.maximum}
                  autoComplete={secret?.(name) ? 'off' : undefined}
                  required={required}
                  value={value}
                  onChange={(event) => set(name, event.target.value)}
                />
              )
            }
          </Field>
        );
      })}
    </div>
  );
}
