import { nodeConfigSchemas, type WorkflowNodeType } from '@runtools/spec';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defaultsOf,
  fieldNames,
  fieldProblems,
  type JsonSchema,
  kindOf,
  labelOf,
  problemOf,
  variantKey,
  variantOf,
} from './json-schema.js';

/** As the dashboard's build makes them (vite.config.ts). */
const schemaOf = (type: WorkflowNodeType) =>
  z.toJSONSchema(nodeConfigSchemas[type], { io: 'input', unrepresentable: 'any' }) as JsonSchema;
const property = (type: WorkflowNodeType, name: string) => schemaOf(type).properties?.[name] ?? {};

describe('forms from the workflow node schemas', () => {
  it('has a field for each property of every node type, of every branch of a union', () => {
    for (const type of Object.keys(nodeConfigSchemas) as WorkflowNodeType[]) {
      const schema = nodeConfigSchemas[type];
      const names =
        schema instanceof z.ZodUnion
          ? schema.options.flatMap((option) => Object.keys((option as z.ZodObject).shape))
          : Object.keys((schema as z.ZodObject).shape);
      expect([...fieldNames(schemaOf(type))], type).toEqual(names);
    }
  });

  it("picks each field's widget from its schema", () => {
    expect(kindOf(property('agent', 'agent'))).toBe('string');
    expect(kindOf(property('agent', 'thread'))).toBe('enum');
    expect(kindOf(property('approval', 'timeoutSeconds'))).toBe('integer');
    expect(kindOf(property('approval', 'approvers'))).toBe('list');
    expect(kindOf(property('sandbox', 'allowFailure'))).toBe('boolean');
    // Records are JSON text.
    expect(kindOf(property('tool', 'params'))).toBe('json');
    expect(kindOf(property('sandbox', 'env'))).toBe('json');
    expect(kindOf(schemaOf('delay'))).toBe('variants');
    expect(kindOf({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false })).toBe(
      'object',
    );
    expect(labelOf('timeoutSeconds')).toBe('Timeout seconds');
    expect(labelOf('issue_number')).toBe('Issue number');
  });

  it("starts a node with its schema's defaults, the first variant's for a union", () => {
    expect(defaultsOf(schemaOf('agent'))).toEqual({ thread: 'none' });
    expect(defaultsOf(schemaOf('tool'))).toEqual({ params: {} });
    expect(defaultsOf(schemaOf('approval'))).toEqual({ onTimeout: 'fail' });
    expect(defaultsOf(schemaOf('delay'))).toEqual({});
  });

  it("names a union's variants by their distinguishing key and finds a value's", () => {
    const branches = schemaOf('delay').anyOf ?? [];
    expect([variantKey(branches, 0), variantKey(branches, 1)]).toEqual(['seconds', 'until']);
    expect([variantOf(branches, { until: 'x' }), variantOf(branches, { seconds: 1 }), variantOf(branches, {})]).toEqual(
      [1, 0, undefined],
    );
  });

  it('says what the schema refuses by field before a save, as the server would', () => {
    const agent = schemaOf('agent');
    expect(fieldProblems(agent, {})).toEqual({ agent: 'required', prompt: 'required' });
    expect(fieldProblems(agent, { agent: 'Not A Slug', prompt: 'hi', thread: 'sometimes' })).toEqual({
      agent: 'does not match ^[a-z0-9]+(?:-[a-z0-9]+)*$',
      thread: 'one of none, run',
    });
    expect(fieldProblems(agent, { agent: 'coder', prompt: 'x'.repeat(10_001) })).toEqual({
      prompt: 'at most 10000 characters',
    });
    const timeout = property('approval', 'timeoutSeconds');
    expect([undefined, 0, 1.5, 60, 10 ** 9].map((value) => problemOf(timeout, value))).toEqual([
      undefined,
      'at least 1',
      'a whole number',
      undefined,
      'at most 31536000',
    ]);
    expect(
      fieldProblems(schemaOf('approval'), { message: 'ok?', approvers: Array.from({ length: 101 }, () => 'a@b.c') }),
    ).toEqual({ approvers: 'at most 100 entries' });
    // A record's names and values are checked too.
    expect(fieldProblems(schemaOf('sandbox'), { command: 'ls', env: { '1BAD': 'x' } })).toEqual({
      env: '1BAD: the name does not match ^[A-Za-z_][A-Za-z0-9_]*$',
    });
    // A union is checked as the variant its value is in.
    expect(fieldProblems(schemaOf('delay'), {})).toEqual({ seconds: 'required' });
    expect(fieldProblems(schemaOf('delay'), { until: '' })).toEqual({ until: 'required' });
    expect(fieldProblems(schemaOf('delay'), { seconds: -1 })).toEqual({ seconds: 'at least 0' });
    expect(fieldProblems(schemaOf('delay'), { until: '{{ input.at }}' })).toEqual({});
    expect(fieldProblems(schemaOf('transform'), { expression: '1', extra: true })).toEqual({
      extra: 'not a field of this form',
    });
  });
});
