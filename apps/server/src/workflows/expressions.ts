import { setImmediate as nextTurn } from 'node:timers/promises';
import { templateParts } from '@runtools/spec';
import jsonata from 'jsonata';
import { RE2JS } from 're2js';

/**
 * Workflow expressions: JSONata, evaluated over the document `{ input, nodes: { <id>: { output } }, trigger, run }`
 * in the control plane's own process, so an expression written by any member must not be able to hang it, fill
 * its memory or reach a host object:
 *
 * - The document is copied into plain JSON first (`JSON.parse(JSON.stringify(…))`): no function, class instance
 *   or prototype of ours is in reach. JSONata reads only own properties, so `constructor` and `__proto__` are
 *   just missing (or, for a `__proto__` key in the data, its value).
 * - Every evaluation step passes JSONata's `__evaluate_entry` hook, which enforces a deadline (`timeoutMs`) and a
 *   nesting bound (`maxDepth`), and gives the event loop a turn every few milliseconds: JSONata's steps are
 *   promises that resolve at once, so without it a long evaluation would hold every other request until it ended.
 * - Every step's value passes `__evaluate_exit`, which bounds its size as JSON (`maxValueBytes`), counting shared
 *   branches as often as they would be written: `{ "a": $x, "b": $x }` nested thirty times is a gigabyte to
 *   `$string` or `=`, not a few objects. Sequences are bounded by JSONata's own `sequence` option.
 * - The few built-ins that do unbounded work in one synchronous call are replaced: regular expressions run on
 *   RE2 (linear time, no backreferences or lookaround), `$pad` refuses a width past the string bound, and
 *   `$distinct` is linear instead of quadratic.
 * - The value handed back is a fresh plain-JSON copy, at most `maxResultBytes` of JSON; a function is refused.
 *
 * What remains is the time of a single built-in on values within those bounds (a `$sort` of a million items).
 */

/** The limits; `evaluate` takes its own `timeoutMs`, `maxDepth` and `maxResultBytes` per call. */
export const expressionLimits = {
  /** Wall time of one evaluation. */
  timeoutMs: 1000,
  /** Nesting of JSONata's evaluation (sub-expressions within sub-expressions, non-tail calls). */
  maxDepth: 2000,
  /** JSON size of any value an expression builds along the way, strings included. */
  maxValueBytes: 32 * 1024 * 1024,
  /** JSON size of the value an evaluation answers. */
  maxResultBytes: 1024 * 1024,
  /** Items in one sequence (JSONata's own `sequence` option); a range `[1..n]` is one. */
  maxSequence: 1_000_000,
  /** Nesting of a value an expression builds or answers (arrays and objects within each other). */
  maxNesting: 1000,
} as const;

/** The spec's bound on an expression (`maxExpressionLength` in workflows.ts, which its index does not export). */
const maxExpressionLength = 10_000;

/** Compiled expressions kept; the engine evaluates the same ones for every run of a workflow. */
export const expressionCacheSize = 4000;

/** How long an evaluation may hold the event loop before it lets other work run. */
const yieldEveryMs = 10;

export interface EvaluateOptions {
  timeoutMs?: number;
  maxDepth?: number;
  maxResultBytes?: number;
}

/**
 * An expression that does not parse, fails while evaluating, or passes a limit. `code` is JSONata's (`S0201`,
 * `T2001`, `D1012` for a timeout, `D1011` for too deep, `D2015` for too long a sequence) or one of ours:
 * `value_too_large`, `not_json` (a document that cannot be copied as JSON, or a value that is or holds a function),
 * `template` (a `{{` without `}}`), `regex_unsupported` (RE2 cannot run it) and `failed` (anything else the engine
 * threw).
 */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';

  constructor(
    /** The problem and where: `Expected ")", got "]" (JSONata S0203 at position 7)`. */
    message: string,
    readonly code: string,
    readonly expression: string,
    readonly position?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What JSONata throws: a plain object, not an Error. */
interface JsonataFailure {
  code?: unknown;
  message?: unknown;
  position?: unknown;
  token?: unknown;
  /** The failure inside `$eval`, which JSONata wraps as D3120/D3121. */
  error?: unknown;
}

function describe(message: string, code: string, position: number | undefined): string {
  return `${message} (${/^[A-Z]\d{4}$/.test(code) ? 'JSONata ' : ''}${code}${position === undefined ? '' : ` at position ${position}`})`;
}

/**
 * The message each of our errors was made with: one thrown from a hook passes JSONata's catch, which rewrites the
 * message of any error whose code is in its table (D1011, D1012) from its template.
 */
const messages = new WeakMap<ExpressionError, string>();

function expressionError(
  message: string,
  code: string,
  expression: string,
  position?: number,
  cause?: unknown,
): ExpressionError {
  const error = new ExpressionError(describe(message, code, position), code, expression, position, { cause });
  messages.set(error, error.message);
  return error;
}

function toExpressionError(error: unknown, expression: string): ExpressionError {
  if (error instanceof ExpressionError) {
    error.message = messages.get(error) ?? error.message;
    return error;
  }
  if (error instanceof RangeError) {
    // A stack overflow (the parser or a walk over deeply nested data) or a string or array past V8's own limit.
    const overflow = /call stack/i.test(error.message);
    return expressionError(
      overflow ? 'the expression or its data nests too deeply' : `a value is too large (${error.message})`,
      overflow ? 'D1011' : 'value_too_large',
      expression,
      undefined,
      error,
    );
  }
  if (error && typeof error === 'object' && typeof (error as JsonataFailure).code === 'string') {
    const failure = error as JsonataFailure;
    // A limit reached inside $eval is that limit, not an "error in $eval".
    if (failure.error instanceof ExpressionError) return toExpressionError(failure.error, expression);
    const position = typeof failure.position === 'number' ? failure.position : undefined;
    const message = typeof failure.message === 'string' && failure.message ? failure.message : 'failed';
    return expressionError(message, failure.code as string, expression, position, error);
  }
  const message = error instanceof Error ? error.message : String(error);
  return expressionError(message, 'failed', expression, undefined, error);
}

// ---------------------------------------------------------------------------------------------------------------
// Regular expressions on RE2: JSONata builds each regex literal with `new RegexEngine(literal)` and uses only
// `exec` and `lastIndex`, as on a global RegExp.

const linearPatterns = new Map<string, RE2JS>();

function linearPattern(source: RegExp): RE2JS {
  const key = `${source.flags}/${source.source}`;
  let pattern = linearPatterns.get(key);
  if (!pattern) {
    pattern = RE2JS.compile(RE2JS.translateRegExp(source));
    if (linearPatterns.size >= 1000) linearPatterns.clear();
    linearPatterns.set(key, pattern);
  }
  return pattern;
}

class LinearRegExp {
  lastIndex = 0;
  readonly #pattern: RE2JS;

  constructor(source: RegExp) {
    this.#pattern = linearPattern(source);
  }

  exec(input: string): RegExpExecArray | null {
    const matcher = this.#pattern.matcher(input);
    if (this.lastIndex > input.length || !matcher.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: Array<string | undefined> = [matcher.group(0) ?? ''];
    for (let group = 1; group <= matcher.groupCount(); group++) groups.push(matcher.group(group) ?? undefined);
    const match = Object.assign(groups, { index: matcher.start(0), input }) as RegExpExecArray;
    // Like a global RegExp: after an empty match lastIndex stays put (JSONata reports that as D1004).
    this.lastIndex = matcher.end(0);
    return match;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sizes: how many bytes of JSON a value would be, shared branches counted each time. Cached per object, so a
// value built step by step is measured once per step, from its parts' sizes.

const sizes = new WeakMap<object, number>();

function isFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (!value || typeof value !== 'object') return false;
  const record = value as { _jsonata_lambda?: unknown; _jsonata_function?: unknown };
  return record._jsonata_lambda === true || record._jsonata_function === true;
}

/** The JSON size of a value, or Infinity once past `limit`. */
function sizeOf(value: unknown, limit: number, nesting = 0): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return 8;
    case 'boolean':
      return 5;
    case 'object':
      break;
    default:
      return 4;
  }
  if (value === null || isFunction(value)) return 4;
  const known = sizes.get(value);
  if (known !== undefined) return known;
  if (nesting > expressionLimits.maxNesting) return Number.POSITIVE_INFINITY;
  // A cycle (none in JSON, but JSONata's own structures may have one) counts once.
  sizes.set(value, 0);
  let total = 2;
  if (Array.isArray(value)) {
    for (const item of value) {
      total += sizeOf(item, limit, nesting + 1) + 1;
      if (total > limit) break;
    }
  } else {
    for (const key of Object.keys(value)) {
      total += key.length + 4 + sizeOf((value as Record<string, unknown>)[key], limit, nesting + 1);
      if (total > limit) break;
    }
  }
  if (total > limit) {
    sizes.delete(value);
    return Number.POSITIVE_INFINITY;
  }
  sizes.set(value, total);
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// The evaluation hooks. Their state travels in a binding whose name has a space, which no JSONata variable can
// spell, so an expression cannot read or shadow it.

const evaluationBinding = ' runtools evaluation';

interface Evaluation {
  expression: string;
  deadline: number;
  timeoutMs: number;
  maxDepth: number;
  steps: number;
  lastYield: number;
}

interface HookEnvironment {
  base: { depth: number; lookup(name: string): unknown };
}

function onEntry(_node: unknown, _input: unknown, environment: HookEnvironment): Promise<unknown> | undefined {
  const base = environment.base;
  const evaluation = base.lookup(evaluationBinding) as Evaluation;
  if (base.depth > evaluation.maxDepth)
    throw expressionError(
      `the evaluation nests deeper than ${evaluation.maxDepth} (a recursion that does not end?)`,
      'D1011',
      evaluation.expression,
    );
  if ((++evaluation.steps & 127) !== 0) return undefined;
  const now = performance.now();
  if (now > evaluation.deadline)
    throw expressionError(
      `the evaluation took longer than ${evaluation.timeoutMs} ms (an endless loop?)`,
      'D1012',
      evaluation.expression,
    );
  if (now - evaluation.lastYield < yieldEveryMs) return undefined;
  evaluation.lastYield = now;
  return nextTurn();
}

function onExit(_node: unknown, _input: unknown, environment: HookEnvironment, result: unknown): void {
  if (result === null || (typeof result !== 'object' && typeof result !== 'string')) return;
  const limit = expressionLimits.maxValueBytes;
  if (sizeOf(result, limit) > limit) {
    const evaluation = environment.base.lookup(evaluationBinding) as Evaluation;
    throw expressionError(
      `a value grew past ${limit / 1024 / 1024} MiB of JSON or ${expressionLimits.maxNesting} levels of nesting`,
      'value_too_large',
      evaluation.expression,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Built-ins replaced with bounded ones (same names and signatures as JSONata's).

function boundedPad(text: string | undefined, width: number, padding?: string): string | undefined {
  if (text === undefined) return undefined;
  const target = Math.abs(Math.trunc(width));
  if (target > expressionLimits.maxValueBytes)
    throw {
      code: 'value_too_large',
      message: `$pad to a width of ${width} is past ${expressionLimits.maxValueBytes}`,
    };
  const characters = Array.from(padding || ' ');
  const missing = target - Array.from(text).length;
  if (missing <= 0) return text;
  const fill = Array.from(characters.join('').repeat(Math.ceil(missing / characters.length)))
    .slice(0, missing)
    .join('');
  return width > 0 ? text + fill : fill + text;
}

const functionIds = new WeakMap<object, number>();
let nextFunctionId = 0;

/** A string equal for deeply equal values (JSONata's `=`: key order does not matter), one per function. */
function canonical(value: unknown): string {
  if (isFunction(value)) {
    const key = value as object;
    let id = functionIds.get(key);
    if (id === undefined) {
      id = nextFunctionId++;
      functionIds.set(key, id);
    }
    return `\u0000function ${id}`;
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'undefined';
}

function linearDistinct(values: unknown): unknown {
  if (!Array.isArray(values) || values.length <= 1) return values;
  const seen = new Set<string>();
  const distinct: unknown[] = [];
  for (const value of values) {
    const key = canonical(value);
    if (seen.has(key)) continue;
    seen.add(key);
    distinct.push(value);
  }
  // A sequence stays a sequence, so a single distinct value unwraps as JSONata's own $distinct does.
  if ((values as { sequence?: unknown }).sequence === true)
    Object.assign(distinct, { sequence: true, keepSingleton: (values as { keepSingleton?: unknown }).keepSingleton });
  return distinct;
}

// ---------------------------------------------------------------------------------------------------------------
// Compilation, cached.

const compiled = new Map<string, jsonata.Expression>();

function regexProblem(ast: unknown, expression: string): ExpressionError | undefined {
  const seen = new Set<unknown>();
  const stack = [ast];
  while (stack.length) {
    const node = stack.pop();
    if (!node || typeof node !== 'object' || seen.has(node)) continue;
    seen.add(node);
    const record = node as { type?: unknown; value?: unknown; position?: unknown };
    if (record.type === 'regex' && record.value instanceof RegExp) {
      try {
        linearPattern(record.value);
      } catch (error) {
        return expressionError(
          `the regular expression ${record.value} is not supported here (RE2 syntax: no lookaround or backreferences): ${(error as Error).message}`,
          'regex_unsupported',
          expression,
          typeof record.position === 'number' ? record.position : undefined,
          error,
        );
      }
      continue;
    }
    for (const child of Object.values(node)) if (child && typeof child === 'object') stack.push(child);
  }
  return undefined;
}

function compile(expression: string): jsonata.Expression {
  const cached = compiled.get(expression);
  if (cached) {
    // Most recently used last: the Map's order is the LRU order.
    compiled.delete(expression);
    compiled.set(expression, cached);
    return cached;
  }
  if (expression.length > maxExpressionLength)
    throw expressionError(`an expression is at most ${maxExpressionLength} characters`, 'S0100', expression);
  let program: jsonata.Expression;
  try {
    program = jsonata(expression, {
      sequence: expressionLimits.maxSequence,
      RegexEngine: LinearRegExp as unknown as RegExpConstructor,
    });
  } catch (error) {
    throw toExpressionError(error, expression);
  }
  const problem = regexProblem(program.ast(), expression);
  if (problem) throw problem;
  // The hooks are looked up by these symbols (jsonata.js `evaluate`); `assign` binds any key.
  const assign = program.assign as (name: string | symbol, value: unknown) => void;
  assign(Symbol.for('jsonata.__evaluate_entry'), onEntry);
  assign(Symbol.for('jsonata.__evaluate_exit'), onExit);
  program.registerFunction('pad', boundedPad, '<s-ns?:s>');
  program.registerFunction('distinct', linearDistinct, '<x:x>');
  compiled.set(expression, program);
  if (compiled.size > expressionCacheSize) compiled.delete(compiled.keys().next().value as string);
  return program;
}

/**
 * Says what is wrong with an expression, or nothing: a parse error with its position, or a regular expression
 * RE2 cannot run. This is the `ExpressionChecker` that `parseGraph` takes.
 *
 * @example checkExpression('nodes.fetch.output[') // 'Expected "]", got "(end)" (JSONata S0203 at position 19)'
 */
export function checkExpression(expression: string): string | undefined {
  try {
    compile(expression);
    return undefined;
  } catch (error) {
    return toExpressionError(error, expression).message;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Documents in, values out.

/** The document as plain JSON, so an expression reaches nothing but data. */
function plainDocument(document: unknown, expression: string): unknown {
  if (document === undefined) return undefined;
  try {
    const text = JSON.stringify(document);
    return text === undefined ? undefined : JSON.parse(text);
  } catch (error) {
    const reason = error instanceof RangeError ? 'it nests too deeply' : (error as Error).message;
    throw expressionError(`the document cannot be copied as JSON: ${reason}`, 'not_json', expression, undefined, error);
  }
}

interface ResultBudget {
  bytes: number;
  readonly limit: number;
  readonly expression: string;
}

/** A fresh plain-JSON copy of what JSONata answered (its sequences are arrays with flags; its objects may have no prototype). */
function plainResult(value: unknown, budget: ResultBudget, path: string, nesting: number): unknown {
  if (isFunction(value))
    throw expressionError(
      `the value ${path === '' ? '' : `at ${path} `}is a function; an expression's value must be JSON`,
      'not_json',
      budget.expression,
    );
  if (nesting > expressionLimits.maxNesting)
    throw expressionError(
      `the value nests deeper than ${expressionLimits.maxNesting}`,
      'value_too_large',
      budget.expression,
    );
  let copy: unknown;
  if (value === undefined || value === null) {
    budget.bytes += 4;
    copy = value === undefined ? undefined : null;
  } else if (typeof value === 'string') {
    budget.bytes += value.length + 2;
    copy = value;
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw expressionError(`the value ${path ? `at ${path} ` : ''}is ${value}`, 'not_json', budget.expression);
    budget.bytes += 8;
    copy = value;
  } else if (typeof value === 'boolean') {
    budget.bytes += 5;
    copy = value;
  } else if (Array.isArray(value)) {
    const items: unknown[] = [];
    value.forEach((item, index) => {
      items.push(plainResult(item, budget, `${path}[${index}]`, nesting + 1) ?? null);
    });
    budget.bytes += 2 + value.length;
    copy = items;
  } else if (typeof value === 'object') {
    const object: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = plainResult((value as Record<string, unknown>)[key], budget, `${path}.${key}`, nesting + 1);
      if (item === undefined) continue;
      budget.bytes += key.length + 4;
      // A "__proto__" key is data: define it, since assigning it would set the prototype.
      Object.defineProperty(object, key, { value: item, enumerable: true, writable: true, configurable: true });
    }
    copy = object;
  } else {
    throw expressionError(`the value ${path ? `at ${path} ` : ''}is a ${typeof value}`, 'not_json', budget.expression);
  }
  if (budget.bytes > budget.limit)
    throw expressionError(
      `the value is larger than ${budget.limit} bytes of JSON`,
      'value_too_large',
      budget.expression,
    );
  return copy;
}

async function evaluatePlain(expression: string, document: unknown, options: EvaluateOptions): Promise<unknown> {
  const program = compile(expression);
  const timeoutMs = options.timeoutMs ?? expressionLimits.timeoutMs;
  const start = performance.now();
  const evaluation: Evaluation = {
    expression,
    deadline: start + timeoutMs,
    timeoutMs,
    maxDepth: options.maxDepth ?? expressionLimits.maxDepth,
    steps: 0,
    lastYield: start,
  };
  let result: unknown;
  try {
    result = await program.evaluate(document, { [evaluationBinding]: evaluation });
  } catch (error) {
    throw toExpressionError(error, expression);
  }
  try {
    return plainResult(
      result,
      { bytes: 0, limit: options.maxResultBytes ?? expressionLimits.maxResultBytes, expression },
      '',
      0,
    );
  } catch (error) {
    throw toExpressionError(error, expression);
  }
}

/**
 * Evaluates a JSONata expression over a document (for workflows `{ input, nodes: { <id>: { output } }, trigger,
 * run }`) and answers its value as plain JSON, or `undefined` when nothing matched. Rejects with an
 * `ExpressionError` when the expression does not parse, fails, or passes a limit (`expressionLimits`).
 *
 * @example await evaluate('nodes.fetch.output.items[price > 10].name', document) // ['pen', 'lamp']
 */
export async function evaluate(expression: string, document: unknown, options: EvaluateOptions = {}): Promise<unknown> {
  return evaluatePlain(expression, plainDocument(document, expression), options);
}

async function interpolatePlain(template: string, document: unknown, options: EvaluateOptions): Promise<unknown> {
  let parts: ReturnType<typeof templateParts>;
  try {
    parts = templateParts(template);
  } catch (error) {
    throw expressionError((error as Error).message, 'template', template, undefined, error);
  }
  const [only] = parts;
  if (parts.length === 1 && only?.kind === 'expression') return evaluatePlain(only.expression, document, options);
  let text = '';
  for (const part of parts) {
    if (part.kind === 'text') {
      text += part.text;
      continue;
    }
    const value = await evaluatePlain(part.expression, document, options);
    if (value === undefined) continue;
    text += typeof value === 'string' ? value : JSON.stringify(value);
  }
  return text;
}

/**
 * Fills a template's `{{ expression }}` parts. A template that is exactly one `{{ expression }}` answers the
 * expression's value as it is (an object, a number…); otherwise the parts are joined into a string, with values
 * that are not strings written as JSON and nothing for an expression that matched nothing.
 *
 * @example await interpolate('Review PR #{{ input.pr }}', document) // 'Review PR #123'
 * @example await interpolate('{{ input.pr }}', document) // 123
 */
export async function interpolate(
  template: string,
  document: unknown,
  options: EvaluateOptions = {},
): Promise<unknown> {
  return interpolatePlain(template, plainDocument(document, template), options);
}

async function interpolateEach(value: unknown, document: unknown, options: EvaluateOptions): Promise<unknown> {
  if (typeof value === 'string') return interpolatePlain(value, document, options);
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value) items.push(await interpolateEach(item, document, options));
    return items;
  }
  if (value && typeof value === 'object') {
    const object: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      Object.defineProperty(object, key, {
        value: await interpolateEach(item, document, options),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return object;
  }
  return value;
}

/**
 * `interpolate` on every string within a value (a tool node's params), keys left as they are; the document is
 * copied once for all of them.
 *
 * @example await interpolateDeep({ repo: '{{ input.repo }}', labels: ['bug'] }, document) // { repo: 'acme/api', labels: ['bug'] }
 */
export async function interpolateDeep(
  value: unknown,
  document: unknown,
  options: EvaluateOptions = {},
): Promise<unknown> {
  return interpolateEach(value, plainDocument(document, ''), options);
}
