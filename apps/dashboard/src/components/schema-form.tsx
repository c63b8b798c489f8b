import { useEffect, useId, useRef, useState } from 'react';
import {
  branchesOf,
  fieldProblems,
  isPlainObject,
  type JsonSchema,
  kindOf,
  labelOf,
  variantKey,
  variantOf,
} from './json-schema';
import { Field } from './ui';

/**
 * What a page adds to a generated field that its schema cannot say: a label, a longer hint, a text area for a
 * long text (`code` for an expression: monospaced, no spell check), names to offer. The field itself (whether
 * it is there, its type, required, limits, options, default) stays the schema's.
 */
export interface FieldPresentation {
  label?: string;
  /** Said after the schema's description. */
  hint?: string;
  widget?: 'input' | 'textarea' | 'code';
  /** Names offered while typing (a datalist): agents, tools, a tool's actions. */
  suggestions?: readonly string[];
}

interface FormProps {
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  /** Per property name. */
  presentation?: Record<string, FieldPresentation>;
  /** Problems found elsewhere (the server's, from the last save), by property name; shown before the form's own. */
  errors?: Record<string, string | undefined>;
  /** Show what the schema says is wrong with each value (required, limits) as it is typed. */
  showProblems?: boolean;
  readOnly?: boolean;
  /** The label of a union's choice of variant (a delay's seconds or until). */
  variantLabel?: string;
}

/**
 * A form generated from a JSON Schema object: a field per property, in the schema's order. Strings are text
 * boxes (text areas where the page says), numbers number boxes with the schema's min and max, booleans
 * checkboxes, enums selects, lists of strings a text area with one a line, objects with named properties a
 * fieldset of their own fields, and anything else (records, arrays of objects) JSON text. A union of objects (a
 * delay: seconds, or until) is a choice of variant by its distinguishing key, then that variant's fields.
 * Labels come from the property names (or titles) with "(required)" on required ones; descriptions are hints.
 * Values are the object's own (numbers as numbers, JSON parsed); an emptied optional field is left out.
 */
export function SchemaForm(props: FormProps) {
  const { schema, value, onChange, variantLabel = 'One of', readOnly } = props;
  const branches = branchesOf(schema);
  const [chosen, setChosen] = useState(0);
  if (branches && kindOf(schema) === 'variants') {
    const index = variantOf(branches, value) ?? chosen;
    const branch = branches[index] ?? {};
    const choose = (next: number) => {
      setChosen(next);
      const nextBranch = branches[next] ?? {};
      // Keep what the new variant has too; leave out what only the old one had; add the new one's defaults.
      const kept: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(nextBranch.properties ?? {}))
        if (value[name] !== undefined) kept[name] = value[name];
        else if (property.default !== undefined) kept[name] = structuredClone(property.default);
      onChange(kept);
    };
    return (
      <div className="schema-form">
        <Field label={variantLabel}>
          {(id, describedBy) => (
            <select
              id={id}
              aria-describedby={describedBy}
              disabled={readOnly}
              value={index}
              onChange={(event) => choose(Number(event.target.value))}
            >
              {branches.map((option, at) => {
                const key = variantKey(branches, at);
                return (
                  // biome-ignore lint/suspicious/noArrayIndexKey: a schema's branches do not reorder
                  <option key={at} value={at}>
                    {option.title ?? (key ? (props.presentation?.[key]?.label ?? labelOf(key)) : `Option ${at + 1}`)}
                  </option>
                );
              })}
            </select>
          )}
        </Field>
        <Properties {...props} schema={branch} />
      </div>
    );
  }
  return (
    <div className="schema-form">
      <Properties {...props} />
    </div>
  );
}

function Properties({ schema, value, onChange, presentation, errors, showProblems, readOnly }: FormProps) {
  const properties = Object.entries(schema.properties ?? {});
  if (!properties.length) return <p className="muted">No fields.</p>;
  const problems = showProblems ? fieldProblems(schema, value) : {};
  const set = (name: string, next: unknown) => {
    const updated = { ...value };
    if (next === undefined) delete updated[name];
    else updated[name] = next;
    onChange(updated);
  };
  return (
    <>
      {properties.map(([name, property]) => (
        <PropertyField
          key={name}
          name={name}
          schema={property}
          required={schema.required?.includes(name) ?? false}
          value={value[name]}
          // An object's own fields say what is wrong inside it; its fieldset, that it is missing or not an object.
          error={
            errors?.[name] ??
            (['object', 'variants'].includes(kindOf(property)) && isPlainObject(value[name])
              ? undefined
              : problems[name])
          }
          presentation={presentation?.[name] ?? {}}
          showProblems={showProblems}
          readOnly={readOnly}
          onChange={(next) => set(name, next)}
        />
      ))}
    </>
  );
}

function PropertyField({
  name,
  schema,
  required,
  value,
  error,
  presentation,
  showProblems,
  readOnly,
  onChange,
}: {
  name: string;
  schema: JsonSchema;
  required: boolean;
  value: unknown;
  error?: string;
  presentation: FieldPresentation;
  showProblems?: boolean;
  readOnly?: boolean;
  onChange: (value: unknown) => void;
}) {
  const listId = useId();
  const kind = kindOf(schema);
  const label = `${presentation.label ?? labelOf(name, schema)}${required ? ' (required)' : ''}`;
  const hint = [schema.description, presentation.hint].filter(Boolean).join(' · ') || undefined;
  const invalid = error ? true : undefined;

  if (kind === 'boolean') return <CheckboxField {...{ label, hint, error, value, readOnly, onChange }} />;
  if (kind === 'object' || kind === 'variants')
    return (
      <fieldset className="fieldset">
        <legend>{label}</legend>
        {hint ? <p className="hint">{hint}</p> : null}
        {error ? (
          <p className="field-error" role="alert">
            {error}
          </p>
        ) : null}
        <SchemaForm
          schema={schema}
          value={isPlainObject(value) ? value : {}}
          onChange={(next) => onChange(Object.keys(next).length || required ? next : undefined)}
          showProblems={showProblems}
          readOnly={readOnly}
        />
      </fieldset>
    );
  if (kind === 'json' || kind === 'list')
    return <TextValueField {...{ kind, label, hint, error, schema, value, readOnly, onChange }} />;

  return (
    <Field label={label} hint={hint} error={error}>
      {(id, describedBy) => {
        const common = {
          id,
          'aria-describedby': describedBy,
          'aria-invalid': invalid,
          'aria-required': required || undefined,
        } as const;
        if (kind === 'enum') {
          const options = schema.enum ?? [];
          const shown = value ?? schema.default;
          return (
            <select
              {...common}
              disabled={readOnly}
              value={shown === undefined ? '' : String(shown)}
              onChange={(event) =>
                onChange(options.find((option) => String(option) === event.target.value) ?? undefined)
              }
            >
              {schema.default === undefined ? <option value="">{required ? 'Choose…' : '(none)'}</option> : null}
              {options.map((option) => (
                <option key={String(option)} value={String(option)}>
                  {String(option)}
                </option>
              ))}
            </select>
          );
        }
        if (kind === 'number' || kind === 'integer')
          return (
            <input
              {...common}
              type="number"
              step={kind === 'integer' ? 1 : 'any'}
              min={schema.minimum}
              max={schema.maximum}
              readOnly={readOnly}
              placeholder={schema.default === undefined ? undefined : String(schema.default)}
              value={typeof value === 'number' ? value : ''}
              onChange={(event) => onChange(event.target.value === '' ? undefined : Number(event.target.value))}
            />
          );
        const text = typeof value === 'string' ? value : '';
        const emit = (next: string) => onChange(next === '' ? undefined : next);
        if (presentation.widget === 'textarea' || presentation.widget === 'code')
          return (
            <textarea
              {...common}
              rows={presentation.widget === 'code' ? 2 : 4}
              className={presentation.widget === 'code' ? 'mono' : undefined}
              spellCheck={presentation.widget === 'code' ? false : undefined}
              maxLength={schema.maxLength}
              readOnly={readOnly}
              value={text}
              onChange={(event) => emit(event.target.value)}
            />
          );
        return (
          <>
            <input
              {...common}
              maxLength={schema.maxLength}
              readOnly={readOnly}
              list={presentation.suggestions?.length ? listId : undefined}
              placeholder={typeof schema.default === 'string' ? schema.default : undefined}
              value={text}
              onChange={(event) => emit(event.target.value)}
            />
            {presentation.suggestions?.length ? (
              <datalist id={listId}>
                {presentation.suggestions.map((suggestion) => (
                  <option key={suggestion} value={suggestion} />
                ))}
              </datalist>
            ) : null}
          </>
        );
      }}
    </Field>
  );
}

function CheckboxField({
  label,
  hint,
  error,
  value,
  readOnly,
  onChange,
}: {
  label: string;
  hint?: string;
  error?: string;
  value: unknown;
  readOnly?: boolean;
  onChange: (value: unknown) => void;
}) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : undefined, error ? `${id}-error` : undefined].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label className="check">
        <input
          type="checkbox"
          aria-describedby={describedBy || undefined}
          aria-invalid={error ? true : undefined}
          disabled={readOnly}
          checked={value === true}
          onChange={(event) => onChange(event.target.checked)}
        />
        {label}
      </label>
      {hint ? (
        <div id={`${id}-hint`} className="hint">
          {hint}
        </div>
      ) : null}
      {error ? (
        <div id={`${id}-error`} className="field-error" role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}

/**
 * A value edited as text: a list of strings one a line, or anything else as JSON (a record, an array of
 * objects). The text is the field's own while it does not parse (said under it); the value changes when it does.
 */
function TextValueField({
  kind,
  label,
  hint,
  error,
  schema,
  value,
  readOnly,
  onChange,
}: {
  kind: 'json' | 'list';
  label: string;
  hint?: string;
  error?: string;
  schema: JsonSchema;
  value: unknown;
  readOnly?: boolean;
  onChange: (value: unknown) => void;
}) {
  const format = (next: unknown) =>
    next === undefined ? '' : kind === 'list' && Array.isArray(next) ? next.join('\n') : JSON.stringify(next, null, 2);
  const [text, setText] = useState(() => format(value));
  const [parseError, setParseError] = useState<string>();
  // The value this field gave last: another value came from outside (a variant switched, a node renamed).
  const emitted = useRef<unknown>(value);
  useEffect(() => {
    if (value !== emitted.current) {
      emitted.current = value;
      setText(format(value));
      setParseError(undefined);
    }
  });
  const emit = (next: unknown) => {
    emitted.current = next;
    onChange(next);
  };
  const type = Array.isArray(schema.type) ? schema.type.find((one) => one !== 'null') : schema.type;
  return (
    <Field
      label={kind === 'json' ? `${label} (JSON)` : label}
      hint={kind === 'list' ? [hint, 'one a line'].filter(Boolean).join(' · ') : hint}
      error={parseError ?? error}
    >
      {(id, describedBy) => (
        <textarea
          id={id}
          aria-describedby={describedBy}
          aria-invalid={parseError || error ? true : undefined}
          rows={kind === 'list' ? 3 : 4}
          className={kind === 'json' ? 'mono' : undefined}
          spellCheck={false}
          readOnly={readOnly}
          placeholder={kind === 'json' ? (type === 'array' ? '[]' : '{}') : undefined}
          value={text}
          onChange={(event) => {
            const next = event.target.value;
            setText(next);
            setParseError(undefined);
            if (!next.trim()) return emit(undefined);
            // Blank lines and spaces around an entry stay in the text while it is typed, not in the list.
            if (kind === 'list')
              return emit(
                next
                  .split('\n')
                  .map((item) => item.trim())
                  .filter(Boolean),
              );
            let parsed: unknown;
            try {
              parsed = JSON.parse(next);
            } catch {
              return setParseError('not valid JSON yet');
            }
            if (type === 'object' && !isPlainObject(parsed)) return setParseError('a JSON object, { … }');
            if (type === 'array' && !Array.isArray(parsed)) return setParseError('a JSON array, [ … ]');
            emit(parsed);
          }}
          onBlur={() => {
            if (kind === 'list' && !parseError) setText(format(value));
          }}
        />
      )}
    </Field>
  );
}
