import { ErrorBody, mapRouteParams, type RouteContract, routes, sessionCookieName } from '@runtools/spec';
import { z } from 'zod';
import { errorStatus } from './errors.js';

type JsonSchema = Record<string, unknown>;

/**
 * Builds the OpenAPI 3.1 document from the spec's route table, so the document covers exactly the routes the
 * server serves. Named schemas (`.meta({ id })`) become components.
 */
export function buildOpenApiDocument(version: string) {
  const components: Record<string, JsonSchema> = {};

  function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
    const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
    delete json.$defs;
    delete json.$schema;
    const rewrite = (value: JsonSchema) =>
      JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
    for (const [name, def] of Object.entries(defs)) components[name] ??= rewrite(def);
    const id = z.globalRegistry.get(schema)?.id;
    if (id) {
      components[id] ??= rewrite(json);
      return { $ref: `#/components/schemas/${id}` };
    }
    return rewrite(json);
  }

  function parameters(contract: RouteContract) {
    const list: JsonSchema[] = [];
    for (const [location, schema] of [
      ['path', contract.params],
      ['query', contract.query],
    ] as const) {
      if (!schema) continue;
      for (const [name, field] of Object.entries(schema.shape)) {
        list.push({
          name,
          in: location,
          required: location === 'path' || !(field as z.ZodType).safeParse(undefined).success,
          schema: toSchema(field as z.ZodType, 'input'),
        });
      }
    }
    return list;
  }

  const errorRef = toSchema(ErrorBody, 'output');
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, contract] of Object.entries(routes) as [string, RouteContract][]) {
    const openApiPath = mapRouteParams(contract.path, (name) => `{${name}}`);
    const errors: Record<string, unknown> = {};
    const statuses = new Set<number>([400, 500]);
    if (contract.auth !== 'public') for (const status of [401, 403]) statuses.add(status);
    if (contract.params) statuses.add(404);
    if (contract.body || contract.rawBody) for (const status of [413, 415]) statuses.add(status);
    for (const status of [...statuses].sort()) {
      const codes = Object.entries(errorStatus)
        .filter(([, value]) => value === status)
        .map(([code]) => code);
      errors[String(status)] = {
        description: `Error: ${codes.join(', ')}`,
        content: { 'application/json': { schema: errorRef } },
      };
    }
    paths[openApiPath] ??= {};
    paths[openApiPath][contract.method.toLowerCase()] = {
      operationId,
      summary: contract.summary,
      tags: [contract.tag],
      ...(contract.auth === 'key'
        ? { 'x-required-scopes': contract.scopes }
        : contract.auth === 'session'
          ? { security: [{ session: [] }] }
          : { security: [] }),
      ...(contract.params || contract.query ? { parameters: parameters(contract) } : {}),
      ...(contract.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: toSchema(contract.body, 'input') } },
            },
          }
        : {}),
      ...(contract.rawBody === 'octet-stream'
        ? {
            requestBody: {
              required: true,
              content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
            },
          }
        : {}),
      ...(contract.rawBody === 'any'
        ? {
            requestBody: {
              required: false,
              content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
            },
          }
        : {}),
      ...(contract.rawBody === 'multipart'
        ? {
            requestBody: {
              required: true,
              content: {
                'multipart/form-data': {
                  schema: {
                    type: 'object',
                    properties: { file: { type: 'array', items: { type: 'string', format: 'binary' } } },
                  },
                },
              },
            },
          }
        : {}),
      responses: {
        [String(contract.status)]: {
          description: contract.summary,
          content: {
            [contract.stream === 'sse'
              ? 'text/event-stream'
              : contract.stream === 'bytes'
                ? 'application/octet-stream'
                : 'application/json']: {
              schema: toSchema(contract.response, 'output'),
            },
          },
        },
        ...errors,
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'RunTools API',
      version,
      description:
        'Every route needs an API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`) holding one of the ' +
        "scopes in `x-required-scopes`, unless it says `security: []`. The dashboard's session cookie stands in for " +
        'a key (with its CSRF token in `X-CSRF-Token` on every request that is not a GET). ' +
        'Errors are `{ error: { code, message, details } }`.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }, { bearer: [] }, { session: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer' },
        session: { type: 'apiKey', in: 'cookie', name: sessionCookieName },
      },
    },
  };
}
