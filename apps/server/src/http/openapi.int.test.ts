import { mapRouteParams, type RouteContract, routes } from '@runtools/spec';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

describe('OpenAPI document', () => {
  let server: TestServer;
  let document: { paths: Record<string, Record<string, { operationId: string; 'x-required-scopes'?: string[] }>> };
  beforeAll(async () => {
    server = await startTestServer();
    const response = await server.request('GET', '/v1/openapi.json', { key: null });
    expect(response.status).toBe(200);
    document = (await response.json()) as typeof document;
  });
  afterAll(() => server.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('covers every route with its scopes', () => {
    for (const [id, contract] of Object.entries(routes) as [string, RouteContract][]) {
      const operation =
        document.paths[mapRouteParams(contract.path, (name) => `{${name}}`)]?.[contract.method.toLowerCase()];
      expect(operation?.operationId, id).toBe(id);
      if (contract.auth === 'key') expect(operation?.['x-required-scopes'], id).toEqual([...contract.scopes]);
    }
  });

  it('serves a docs page that loads nothing from outside the server', async () => {
    const response = await server.request('GET', '/docs', { key: null });
    const html = await response.text();
    expect(html).toContain('/v1/openapi.json');
    expect(html).not.toMatch(/(src|href)="https?:\/\//);
  });
});
