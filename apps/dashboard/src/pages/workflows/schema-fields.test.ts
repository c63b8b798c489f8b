import { nodeConfigSchemas } from '@runtools/spec';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type FieldDef, fieldProblem, fieldsFromSchema, type JsonSchema } from './schema-fields.js';

/** As the dashboard's build makes them (vite.config.ts). */
const schemaOf = (type: keyof typeof nodeConfigSchemas) =>
  z.toJSONSchema(nodeConfigSchemas[type], { io: 'input', unrepresentable: 'any' }) as JsonSchema;

describe('workflow node forms from the node schemas', () => {
  it("gives every node type a field for each property of its schema, in the schema's order, and no other", () => {
    for (const type of Object.keys(nodeConfigSchemas) as (keyof typeof nodeConfigSchemas)[]) {
      const schema = nodeConfigSchemas[type];
      const names =
        schema instanceof z.ZodUnion
          ? schema.options.flatMap((option) => Object.keys((option as z.ZodObject).shape))
          : Object.keys((schema as z.ZodObject).shape);
      expect(
        fieldsFromSchema(schemaOf(type)).map((field) => field.name),
        type,
      ).toEqual(names);
    }
  });

  it('takes the widget, required, options, default, limits and help from the schema, and labels from the page', () => {
    const agent = fieldsFromSchema(schemaOf('agent'), { agent: { label: 'Agent', suggest: 'agents' } });
    expect(agent[0]).toMatchObject({
      name: 'agent',
      label: 'Agent',
      kind: 'text',
      required: true,
      suggest: 'agents',
      hint: "the agent's slug",
      maxLength: 63,
    });
    expect(agent[2]).toMatchObject({ name: 'thread', kind: 'select', options: ['none', 'run'], defaultValue: 'none' });
    expect(agent[2]?.required).toBeUndefined();
    const approval = fieldsFromSchema(schemaOf('approval'));
    expect(approval.find((field) => field.name === 'approvers')).toMatchObject({ kind: 'list', maxItems: 100 });
    expect(approval.find((field) => field.name === 'timeoutSeconds')).toMatchObject({
      label: 'Timeout seconds',
      kind: 'number',
      integer: true,
      minimum: 1,
    });
    expect(fieldsFromSchema(schemaOf('sandbox')).find((field) => field.name === 'allowFailure')).toMatchObject({
      kind: 'checkbox',
      defaultValue: false,
    });
    expect(fieldsFromSchema(schemaOf('tool')).find((field) => field.name === 'params')).toMatchObject({ kind: 'json' });
    // A union (seconds, or until): both fields, neither required on its own.
    expect(fieldsFromSchema(schemaOf('delay')).map((field) => [field.name, field.kind, field.required])).toEqual([
      ['seconds', 'number', undefined],
      ['until', 'text', undefined],
    ]);
  });

  it("says what is wrong with a value by its schema's limits before a save", () => {
    const field = (name: string, type: keyof typeof nodeConfigSchemas) =>
      fieldsFromSchema(schemaOf(type), { agent: { suggest: 'agents' } }).find((each) => each.name === name) as FieldDef;
    const slug = field('agent', 'agent');
    expect(
      [undefined, '', 'Not A Slug', 'coder', '{{ input.agent }}'].map((value) => fieldProblem(slug, value)),
    ).toEqual(['required', 'required', 'a slug: lowercase letters, digits and dashes', undefined, undefined]);
    const timeout = field('timeoutSeconds', 'approval');
    expect([undefined, 0, 1.5, 60, 10 ** 9].map((value) => fieldProblem(timeout, value))).toEqual([
      undefined,
      'at least 1',
      'a whole number',
      undefined,
      'at most 31536000',
    ]);
    expect(fieldProblem(field('thread', 'agent'), 'sometimes')).toBe('one of none, run');
    expect(
      fieldProblem(
        field('approvers', 'approval'),
        Array.from({ length: 101 }, () => 'a@b.c'),
      ),
    ).toBe('at most 100 entries');
    expect(fieldProblem(field('prompt', 'agent'), 'x'.repeat(10_001))).toBe('at most 10000 characters');
  });
});
