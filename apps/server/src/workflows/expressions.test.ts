import { describe, expect, it } from 'vitest';
import {
  checkExpression,
  ExpressionError,
  evaluate,
  expressionCacheSize,
  expressionLimits,
  interpolate,
  interpolateDeep,
} from './expressions.js';

const document = {
  input: { prompt: 'Review PR #123', pr: 123, labels: ['bug', 'ui'] },
  nodes: {
    fetch: {
      output: {
        items: [
          { name: 'pen', price: 3 },
          { name: 'lamp', price: 40 },
          { name: 'desk', price: 250 },
        ],
      },
    },
    'fetch-data': { output: { ok: true } },
  },
  trigger: { kind: 'webhook', body: { action: 'opened' }, headers: { 'x-github-event': 'pull_request' } },
  run: { id: 'wfr_1', workflow: 'review-pr', version: 3, startedAt: '2026-01-05T10:00:00.000Z' },
};

/** The ExpressionError an evaluation rejects with, and how long it took. */
async function failure(
  expression: string,
  data: unknown = document,
  options = {},
): Promise<{ error: ExpressionError; ms: number }> {
  const start = performance.now();
  try {
    await evaluate(expression, data, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ExpressionError);
    return { error: error as ExpressionError, ms: performance.now() - start };
  }
  throw new Error(`${expression} did not fail`);
}

describe('evaluate', () => {
  it('reads the document: input, node outputs, trigger and run', async () => {
    expect(await evaluate('input.pr * 2', document)).toBe(246);
    expect(await evaluate('nodes.fetch.output.items[price > 10].name', document)).toEqual(['lamp', 'desk']);
    expect(await evaluate('$sum(nodes.fetch.output.items.price)', document)).toBe(293);
    expect(await evaluate('nodes.`fetch-data`.output.ok', document)).toBe(true);
    expect(await evaluate('trigger.headers."x-github-event"', document)).toBe('pull_request');
    expect(await evaluate('run.workflow & "@" & run.version', document)).toBe('review-pr@3');
    expect(await evaluate('{ "count": $count(input.labels), "first": input.labels[0] }', document)).toEqual({
      count: 2,
      first: 'bug',
    });
  });

  it('answers undefined when nothing matches', async () => {
    expect(await evaluate('nodes.missing.output', document)).toBeUndefined();
    expect(await evaluate('input.labels[$ = "none"]', document)).toBeUndefined();
  });

  it('answers plain JSON: arrays without JSONata flags, objects with the ordinary prototype', async () => {
    const items = (await evaluate('nodes.fetch.output.items.name', document)) as string[];
    expect(items).toEqual(['pen', 'lamp', 'desk']);
    expect(Object.keys(items)).toEqual(['0', '1', '2']);
    const grouped = (await evaluate('nodes.fetch.output.items{ name: price }', document)) as object;
    expect(Object.getPrototypeOf(grouped)).toBe(Object.prototype);
    expect(grouped).toEqual({ pen: 3, lamp: 40, desk: 250 });
  });

  it('evaluates over a copy: dates become ISO strings, functions are not there, the caller’s object is left alone', async () => {
    const data = { input: { at: new Date('2026-01-05T10:00:00Z'), callback: () => 'secret', list: [1, 2] } };
    expect(await evaluate('input.at', data)).toBe('2026-01-05T10:00:00.000Z');
    expect(await evaluate('input.callback', data)).toBeUndefined();
    expect(await evaluate('input ~> | $ | { "list": [9] } |', data)).toEqual({
      at: '2026-01-05T10:00:00.000Z',
      list: [9],
    });
    expect(data.input.list).toEqual([1, 2]);
  });

  it('keeps JSONata’s $distinct meaning (deep equality, key order ignored, a single value unwrapped)', async () => {
    expect(await evaluate('$distinct([1, "1", 1, {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1], [1]])', {})).toEqual([
      1,
      '1',
      { a: 1, b: 2 },
      [1],
    ]);
    expect(await evaluate('$distinct(input.labels[0])', document)).toBe('bug');
    expect(await evaluate('$distinct(items.k)', { items: [{ k: 'x' }, { k: 'x' }] })).toBe('x');
  });

  it('runs regular expressions on RE2, with JSONata’s $match, $replace, $split and $contains', async () => {
    expect(await evaluate('$match("a1b22", /[0-9]+/).match', {})).toEqual(['1', '22']);
    expect(await evaluate('$match("x😀y😀", /😀/).index', {})).toEqual([1, 4]);
    expect(await evaluate('$match("John Smith", /(\\w+) (\\w+)/).groups', {})).toEqual(['John', 'Smith']);
    expect(await evaluate('$replace("hello world", /o/, "0")', {})).toBe('hell0 w0rld');
    expect(await evaluate('$split("a1b2c", /[0-9]/)', {})).toEqual(['a', 'b', 'c']);
    expect(await evaluate('$contains("Hello", /^h/i)', {})).toBe(true);
    expect(await evaluate('input.labels[$ ~> /^b/]', document)).toBe('bug');
  });

  it('takes smaller limits per call', async () => {
    // A deadline far off: under a loaded machine only the size limit this test is about may stop it.
    const { error } = await failure('$join([1..100000].("abcdefgh"))', {}, { maxResultBytes: 1000, timeoutMs: 60_000 });
    expect(error.code).toBe('value_too_large');
  });

  it('keeps up with the engine: a thousand evaluations of a transform well within a second', async () => {
    const start = performance.now();
    for (let index = 0; index < 1000; index++)
      await evaluate('{ "total": $sum(nodes.fetch.output.items.price), "n": input.pr + 1 }', document);
    // About 20 µs each here; the bound is the engine's goal of 500 node executions a second.
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('keeps working past the cache size', async () => {
    for (let index = 0; index < expressionCacheSize + 10; index++) await evaluate(`${index} + 1`, {});
    expect(await evaluate('0 + 1', {})).toBe(1);
  });
});

describe('checkExpression', () => {
  it('accepts an expression and says nothing', () => {
    expect(checkExpression('nodes.fetch.output.items[price > 10].name')).toBeUndefined();
    expect(checkExpression('$match(input.text, /[a-z]+/i)')).toBeUndefined();
  });

  it('names a parse error with JSONata’s code and position', () => {
    expect(checkExpression('nodes.fetch.output[')).toMatch(/JSONata S0203 at position 19/);
    expect(checkExpression('1 +')).toMatch(/S0207/);
    expect(checkExpression('{ "a": }')).toMatch(/JSONata S0\d{3} at position \d+/);
  });

  it('refuses a regular expression RE2 cannot run (lookaround, backreferences)', () => {
    expect(checkExpression('$match(input.text, /(?=a)b/)')).toMatch(/not supported here.*regex_unsupported/);
    expect(checkExpression('$replace(input.text, /(a)\\1/, "")')).toMatch(/regex_unsupported at position \d+/);
  });

  it('refuses an expression past the spec’s length', () => {
    expect(checkExpression(`1${' + 1'.repeat(2500)}`)).toMatch(/at most 10000 characters/);
  });

  it('reports an evaluation error with its code and the expression', async () => {
    const { error } = await failure('"a" + 1');
    expect(error.code).toBe('T2001');
    expect(error.expression).toBe('"a" + 1');
    expect(error.message).toMatch(/must evaluate to a number \(JSONata T2001 at position \d+\)/);
  });
});

describe('interpolate', () => {
  it('answers the raw value of a template that is one expression', async () => {
    expect(await interpolate('{{ input.pr }}', document)).toBe(123);
    expect(await interpolate('{{nodes.fetch.output.items[0]}}', document)).toEqual({ name: 'pen', price: 3 });
    expect(await interpolate('{{ nodes.missing }}', document)).toBeUndefined();
  });

  it('joins text and values, writing non-strings as JSON and nothing for no match', async () => {
    expect(await interpolate('Review PR #{{ input.pr }} ({{ input.labels }})', document)).toBe(
      'Review PR #123 (["bug","ui"])',
    );
    expect(await interpolate('[{{ nodes.missing }}] {{ null }} {{ "s" }}', document)).toBe('[] null s');
    expect(await interpolate(' {{ input.pr }}', document)).toBe(' 123');
    expect(await interpolate('no braces', document)).toBe('no braces');
    expect(await interpolate('', document)).toBe('');
  });

  it('refuses a template with a {{ that does not close', async () => {
    await expect(interpolate('Hello {{ input.prompt', document)).rejects.toMatchObject({
      name: 'ExpressionError',
      code: 'template',
    });
  });

  it('fills every string of a nested value and leaves keys and other values alone', async () => {
    const params = JSON.parse(
      '{"repo": "acme/{{ run.workflow }}", "number": "{{ input.pr }}", "labels": ["{{ input.labels[1] }}", "fixed"], "draft": false, "limit": 5, "nested": {"{{ key }}": "{{ trigger.body }}"}, "__proto__": {"x": "{{ input.pr }}"}}',
    );
    const filled = (await interpolateDeep(params, document)) as Record<string, unknown>;
    expect(filled).toEqual(
      JSON.parse(
        '{"repo": "acme/review-pr", "number": 123, "labels": ["ui", "fixed"], "draft": false, "limit": 5, "nested": {"{{ key }}": {"action": "opened"}}, "__proto__": {"x": 123}}',
      ),
    );
    expect(Object.getPrototypeOf(filled)).toBe(Object.prototype);
  });
});

describe('hostile expressions', () => {
  it('stops an endless tail recursion at the deadline, letting the event loop run meanwhile', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const { error, ms } = await failure('($f := function($x){ $f($x) }; $f(1))');
    clearInterval(timer);
    expect(error.code).toBe('D1012');
    expect(error.message).toMatch(/longer than 1000 ms/);
    expect(ms).toBeGreaterThanOrEqual(expressionLimits.timeoutMs - 5);
    expect(ms).toBeLessThan(3000);
    // The evaluation gives way every few milliseconds: timers fire throughout instead of after it.
    expect(ticks).toBeGreaterThan(20);
  });

  it('stops a recursion that nests without end', async () => {
    // The deadline far off: the depth limit, not the clock, stops it.
    const { error } = await failure('($f := function($x){ 1 + $f($x) }; $f(1))', document, { timeoutMs: 60_000 });
    expect(error.code).toBe('D1011');
    expect(error.message).toMatch(/nests deeper than 2000/);
  });

  it('stops an endless loop inside $eval the same way', async () => {
    const { error } = await failure('$eval("($f := function($x){ $f($x) }; $f(1))")', document, { timeoutMs: 100 });
    expect(error.code).toBe('D1012');
  });

  it('refuses a huge range at once', async () => {
    const { error } = await failure('[1..10000000]', document, { timeoutMs: 60_000 });
    expect(error.code).toBe('D2015');
    expect((await failure('$count([1..2000000])')).error.code).toBe('D2015');
  });

  it('refuses values that double until they are huge, before writing them out', async () => {
    // Objects that share their branches: a few objects, but 2^30 copies of [1..100] as JSON.
    // Deadlines far off: the size limit, not the clock, must stop them (writing them out would never end).
    const tree = await failure(
      '($d := function($o, $n){ $n = 0 ? $o : $d({ "a": $o, "b": $o }, $n - 1) }; $string($d([1..100], 30)))',
      document,
      { timeoutMs: 60_000 },
    );
    expect(tree.error.code).toBe('value_too_large');
    const text = await failure(
      '($d := function($s, $n){ $n = 0 ? $s : $d($s & $s, $n - 1) }; $length($d("ab", 40)))',
      document,
      { timeoutMs: 60_000 },
    );
    expect(text.error.code).toBe('value_too_large');
    const pad = await failure('$pad("", 1000000000)', document, { timeoutMs: 60_000 });
    expect(pad.error.code).toBe('value_too_large');
  });

  it('refuses a result past 1 MiB of JSON', async () => {
    const { error } = await failure('$join([1..200000].("abcdefgh"))', document, { timeoutMs: 60_000 });
    expect(error.code).toBe('value_too_large');
    expect(error.message).toMatch(/larger than 1048576 bytes/);
  });

  it('matches a catastrophic-backtracking pattern in linear time', async () => {
    // With backtracking these would take longer than the universe has; the deadline is not what ends them.
    const far = { timeoutMs: 60_000 };
    expect(await evaluate(`$match("${'a'.repeat(5000)}!", /(a+)+b/)`, {}, far)).toBeUndefined();
    expect(await evaluate(`$contains("${'a'.repeat(5000)}!", /^(a|aa)+$/)`, {}, far)).toBe(false);
  });

  it('keeps $distinct linear: ten times the items cost about ten times the time, not a hundred', async () => {
    const timed = async (items: number) => {
      const start = performance.now();
      expect(await evaluate(`$count($distinct([1..${items}].($ % 1000)))`, {}, { timeoutMs: 60_000 })).toBe(1000);
      return performance.now() - start;
    };
    await timed(20_000);
    // The better of two runs each, so a pause of the machine does not decide it.
    const small = Math.min(await timed(20_000), await timed(20_000));
    const large = Math.min(await timed(200_000), await timed(200_000));
    expect(large / small).toBeLessThan(40);
  });

  it('turns deep nesting of an expression or of the document into an error', async () => {
    const nested = failure(`${'['.repeat(4000)}${']'.repeat(4000)}`);
    expect((await nested).error.code).toBe('D1011');
    expect(checkExpression(`${'('.repeat(4900)}1${')'.repeat(4900)}`)).toMatch(/nests too deeply/);
    const deep = JSON.parse(`${'['.repeat(20000)}${']'.repeat(20000)}`);
    expect((await failure('$count($)', deep)).error.message).toMatch(/nests too deeply/);
  });

  it('refuses a document that is not JSON (a cycle), so $string never meets one', async () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const { error } = await failure('$string(input)', { input: cyclic });
    expect(error.code).toBe('not_json');
    expect(error.message).toMatch(/cannot be copied as JSON/);
  });

  it('reaches no constructor or prototype of the host', async () => {
    for (const expression of [
      '$.constructor',
      'input.constructor.constructor',
      '$lookup(input, "constructor")',
      'input.__proto__',
      '$lookup(input, "__proto__")',
      '$keys(input.__proto__)',
      'input.toString',
    ])
      expect(await evaluate(expression, document), expression).toBeUndefined();
    expect(await evaluate('input.labels.constructor', document)).toBeUndefined();
  });

  it('treats __proto__ as data, in the document and in what an expression builds, and pollutes nothing', async () => {
    const data = JSON.parse('{ "input": { "__proto__": { "admin": true }, "name": "x" } }');
    expect(await evaluate('input.__proto__.admin', data)).toBe(true);
    const built = (await evaluate('{ "__proto__": { "polluted": true }, "b": 1 }', {})) as Record<string, unknown>;
    expect(Object.getPrototypeOf(built)).toBe(Object.prototype);
    expect(Object.keys(built)).toEqual(['__proto__', 'b']);
    expect(JSON.stringify(built)).toBe('{"__proto__":{"polluted":true},"b":1}');
    await evaluate('$merge([{ "__proto__": { "polluted": true } }, input])', data);
    await evaluate('input ~> | $ | { "__proto__": { "polluted": true } } |', data);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses a function as a value', async () => {
    expect((await failure('function($x){ $x }')).error.code).toBe('not_json');
    const nested = await failure('{ "f": $uppercase }');
    expect(nested.error.code).toBe('not_json');
    expect(nested.error.message).toMatch(/at \.f is a function/);
  });

  it('leaves the process serving: hostile evaluations side by side with a plain one', async () => {
    const hostile = [
      '($f := function($x){ $f($x) }; $f(1))',
      '($f := function($x){ 1 + $f($x) }; $f(1))',
      '[1..10000000]',
      '$sort([1..100000], function($a, $b){ $a > $b })',
    ].map((expression) =>
      evaluate(expression, document, { timeoutMs: 2000 }).then(
        () => 'passed',
        (error) => error.code,
      ),
    );
    const plain = evaluate('input.pr + 1', document);
    expect(await plain).toBe(124);
    expect(await Promise.all(hostile)).toEqual(['D1012', 'D1011', 'D2015', 'D1012']);
    expect(await evaluate('input.prompt', document)).toBe('Review PR #123');
  });
});
