import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * Checks requests against a published OpenAPI 3.0 description, so a fake service refuses what the real one
 * would not be sent by a correct client: the method and path must name an operation, the path and query
 * parameters must fit their schemas (query strings coerced to the declared types, as the service reads them),
 * and a JSON body must fit the operation's request body schema.
 *
 * Two places are stricter than the description: a query parameter it does not declare, and a top-level body
 * field an object body does not declare, are refused. Services such as GitHub silently ignore both, so a
 * misspelt field would otherwise pass a test while the real call loses it.
 *
 * The description is parsed once per process, on the first check, and each operation's validators are
 * compiled once, on its first request.
 */
export interface OpenApiChecker {
  check(request: OpenApiRequest): OpenApiCheck;
}

export interface OpenApiRequest {
  method: string;
  /** The path as it arrived, percent-encoding intact (a parameter's `%2F` is not a separator). */
  path: string;
  query: URLSearchParams;
  /** The content-type header, when the request has a body. */
  contentType?: string | undefined;
  /** The parsed JSON body; undefined when the request had none. */
  body?: unknown;
}

export type OpenApiCheck =
  | {
      ok: true;
      operationId: string;
      template: string;
      /** Path parameters, decoded and coerced to their schema types. */
      pathParams: Record<string, unknown>;
      /** Query parameters, coerced to their schema types. */
      query: Record<string, unknown>;
      /** The operation's documentation page, where the description names one. */
      documentationUrl: string | undefined;
    }
  | {
      ok: false;
      /** No path template matches, or the path exists without this method (services answer both 404). */
      reason: 'unknown_operation' | 'invalid';
      operationId?: string;
      documentationUrl?: string | undefined;
      errors: string[];
    };

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
  'x-multi-segment'?: boolean;
}
interface Operation {
  operationId?: string;
  parameters?: (Parameter | { $ref: string })[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  externalDocs?: { url?: string };
}
interface Description {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema>; parameters?: Record<string, Parameter> };
}

interface Route {
  template: string;
  pattern: RegExp;
  names: string[];
  /** Literal characters in the template: where two templates match, the more specific one wins. */
  specificity: number;
  operations: Record<string, Operation>;
}

interface Compiled {
  operationId: string;
  documentationUrl: string | undefined;
  pathParams: ValidateFunction;
  query: ValidateFunction;
  body: { required: boolean; types: string[]; validate: ValidateFunction | undefined } | undefined;
}

const documentId = 'openapi:components';
const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const checkers = new Map<string, OpenApiChecker>();

/** The checker for the description in `file` (one per file per process; the file is read on the first check). */
export function openApiChecker(file: string): OpenApiChecker {
  let checker = checkers.get(file);
  if (!checker) {
    let loaded: { routes: Route[]; description: Description; params: Ajv; bodies: Ajv } | undefined;
    const compiled = new Map<Operation, Compiled>();
    checker = {
      check(request) {
        loaded ??= load(file);
        return check(loaded, compiled, request);
      },
    };
    checkers.set(file, checker);
  }
  return checker;
}

function load(file: string) {
  const description = JSON.parse(readFileSync(file, 'utf8')) as Description;
  const routes: Route[] = Object.entries(description.paths).map(([template, item]) => {
    const operations = Object.fromEntries(Object.entries(item).filter(([method]) => methods.has(method)));
    // A parameter marked x-multi-segment (a file path) may span slashes, and is empty for a repository's root.
    const multiSegment = new Set(
      Object.values(operations).flatMap((operation) =>
        (operation.parameters ?? [])
          .map((parameter) => resolveParameter(description, parameter))
          .filter((parameter) => parameter['x-multi-segment'])
          .map((parameter) => parameter.name),
      ),
    );
    const names: string[] = [];
    let specificity = 0;
    let source = template
      .split(/(\{[^}]+\})/)
      .map((part) => {
        const name = /^\{([^}]+)\}$/.exec(part)?.[1];
        if (name === undefined) {
          specificity += part.length;
          return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }
        names.push(name);
        return multiSegment.has(name) ? '(.*)' : '([^/]+)';
      })
      .join('');
    // A trailing multi-segment parameter may be left out with its slash: GitHub's description of the contents
    // operation says that omitting the path gives the repository's root, and Octokit drops the trailing slash.
    if (source.endsWith('/(.*)')) source = `${source.slice(0, -'/(.*)'.length)}(?:/(.*))?`;
    return { template, pattern: new RegExp(`^${source}$`), names, specificity, operations };
  });
  // The component schemas go in once under an id; operation schemas point their `#/components/...` refs there.
  const components = { $id: documentId, components: { schemas: rebase(description.components?.schemas ?? {}) } };
  const ajv = (coerceTypes: false | 'array') => {
    const instance = new Ajv({
      strict: false,
      allErrors: true,
      coerceTypes,
      logger: false,
      validateSchema: false,
      addUsedSchema: false,
    });
    instance.addFormat('date-time', /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:?\d\d)?$/);
    instance.addFormat('date', /^\d{4}-\d\d-\d\d$/);
    instance.addFormat('email', /^[^\s@]+@[^\s@]+$/);
    instance.addFormat('uri', /^[a-z][a-z0-9+.-]*:\S*$/i);
    instance.addSchema(components);
    return instance;
  };
  return { routes, description, params: ajv('array'), bodies: ajv(false) };
}

function resolveParameter(description: Description, parameter: Parameter | { $ref: string }): Parameter {
  if (!('$ref' in parameter)) return parameter;
  const name = parameter.$ref.replace('#/components/parameters/', '');
  const found = description.components?.parameters?.[name];
  if (!found) throw new Error(`the description has no parameter ${parameter.$ref}`);
  return found;
}

/**
 * A schema fragment as JSON Schema for Ajv: local refs point into the components added to Ajv, and OpenAPI
 * 3.0's `nullable` without a `type` (beside a `oneOf` or a `$ref`, which Ajv's own `nullable` support refuses)
 * becomes "this, or null".
 */
function rebase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rebase);
  if (!value || typeof value !== 'object') return value;
  const schema = Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      key === '$ref' && typeof inner === 'string' && inner.startsWith('#/') ? `${documentId}${inner}` : rebase(inner),
    ]),
  ) as Schema;
  if ('nullable' in schema && !('type' in schema)) {
    const { nullable, ...rest } = schema;
    return nullable === true ? { anyOf: [rest, { type: 'null' }] } : rest;
  }
  return schema;
}

function compile(loaded: ReturnType<typeof load>, operation: Operation, fallbackId: string): Compiled {
  const parameters = (operation.parameters ?? []).map((parameter) => resolveParameter(loaded.description, parameter));
  const objectOf = (location: 'path' | 'query', closed: boolean) => {
    const declared = parameters.filter((parameter) => parameter.in === location);
    return loaded.params.compile({
      type: 'object',
      properties: Object.fromEntries(declared.map((parameter) => [parameter.name, rebase(parameter.schema ?? {})])),
      required: declared.filter((parameter) => parameter.required).map((parameter) => parameter.name),
      additionalProperties: !closed,
    });
  };
  let body: Compiled['body'];
  if (operation.requestBody) {
    const json = operation.requestBody.content['application/json']?.schema;
    let schema = json ? (rebase(json) as Schema) : undefined;
    const composed = schema && ('oneOf' in schema || 'anyOf' in schema || 'allOf' in schema || '$ref' in schema);
    if (schema?.properties && !composed && schema.additionalProperties === undefined) {
      schema = { ...schema, additionalProperties: false };
    }
    body = {
      required: operation.requestBody.required === true,
      types: Object.keys(operation.requestBody.content),
      validate: schema ? loaded.bodies.compile(schema) : undefined,
    };
  }
  return {
    operationId: operation.operationId ?? fallbackId,
    documentationUrl: operation.externalDocs?.url,
    pathParams: objectOf('path', false),
    query: objectOf('query', true),
    body,
  };
}

function describeErrors(where: string, errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((error) => {
    const extra =
      error.keyword === 'additionalProperties'
        ? ` (${String((error.params as { additionalProperty?: string }).additionalProperty)})`
        : error.keyword === 'enum'
          ? ` (${JSON.stringify((error.params as { allowedValues?: unknown }).allowedValues)})`
          : '';
    return `${where}${error.instancePath} ${error.message ?? 'is invalid'}${extra}`;
  });
}

function check(
  loaded: ReturnType<typeof load>,
  cache: Map<Operation, Compiled>,
  request: OpenApiRequest,
): OpenApiCheck {
  const method = request.method.toLowerCase();
  const matches = loaded.routes
    .map((route) => ({ route, match: route.pattern.exec(request.path) }))
    .filter((entry) => entry.match !== null)
    .sort((left, right) => right.route.specificity - left.route.specificity);
  const found = matches.find((entry) => entry.route.operations[method]);
  if (!found?.match) {
    const reason = matches.length ? `${request.method} is not an operation of ${matches[0]?.route.template}` : '';
    return {
      ok: false,
      reason: 'unknown_operation',
      errors: [reason || `no operation matches ${request.method} ${request.path}`],
    };
  }
  const operation = found.route.operations[method] as Operation;
  let compiled = cache.get(operation);
  if (!compiled) {
    compiled = compile(loaded, operation, `${method} ${found.route.template}`);
    cache.set(operation, compiled);
  }
  const errors: string[] = [];
  const pathParams: Record<string, unknown> = {};
  for (const [index, name] of found.route.names.entries()) {
    const raw = found.match[index + 1] ?? '';
    try {
      pathParams[name] = decodeURIComponent(raw);
    } catch {
      errors.push(`path parameter ${name} is not valid percent-encoding`);
    }
  }
  if (!compiled.pathParams(pathParams)) errors.push(...describeErrors('path', compiled.pathParams.errors));

  const query: Record<string, unknown> = {};
  for (const name of new Set(request.query.keys())) {
    const values = request.query.getAll(name);
    query[name] = values.length === 1 ? values[0] : values;
  }
  if (!compiled.query(query)) errors.push(...describeErrors('query', compiled.query.errors));

  const hasBody = request.body !== undefined;
  if (!compiled.body) {
    if (hasBody) errors.push('the operation takes no request body');
  } else if (!hasBody) {
    if (compiled.body.required) errors.push('the operation requires a request body');
  } else {
    const type = request.contentType?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json' || !compiled.body.types.includes('application/json')) {
      errors.push(`content-type ${type ?? '(none)'} is not one of ${compiled.body.types.join(', ')}`);
    } else if (compiled.body.validate && !compiled.body.validate(request.body)) {
      errors.push(...describeErrors('body', compiled.body.validate.errors));
    }
  }
  if (errors.length) {
    return {
      ok: false,
      reason: 'invalid',
      operationId: compiled.operationId,
      documentationUrl: compiled.documentationUrl,
      errors,
    };
  }
  return {
    ok: true,
    operationId: compiled.operationId,
    template: found.route.template,
    pathParams,
    query,
    documentationUrl: compiled.documentationUrl,
  };
}
