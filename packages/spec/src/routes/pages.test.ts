import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { maxPageSize } from '../common.js';
import { type RouteContract, type RouteId, routes } from './index.js';

/** Lists that page by something other than a cursor, and why. */
const otherPaging: Partial<Record<RouteId, string>> = {
  sandboxesLogs: 'a log is read on from ?after=<seq>, the sequence number its stream resumes from too',
};

/** A route whose answer is `{ data: [...] }`: a list. */
function isList(contract: RouteContract): contract is RouteContract & { response: z.ZodObject } {
  return (
    contract.method === 'GET' &&
    contract.stream === undefined &&
    contract.response instanceof z.ZodObject &&
    contract.response.shape.data instanceof z.ZodArray
  );
}

describe('the route table', () => {
  const lists = (Object.entries(routes) as [RouteId, RouteContract][]).filter(([, contract]) => isList(contract));

  it('gives every list route ?limit=&cursor= and answers it with { data, nextCursor }', () => {
    expect(lists.length).toBeGreaterThan(25);
    for (const [id, contract] of lists) {
      if (otherPaging[id]) continue;
      const shape = (contract.response as z.ZodObject).shape;
      expect(Object.keys(shape).sort(), id).toEqual(['data', 'nextCursor']);
      expect(shape.nextCursor?.safeParse(null).success, id).toBe(true);
      expect(shape.nextCursor?.safeParse('abc').success, id).toBe(true);
      const query = contract.query?.shape ?? {};
      const limit = query.limit as z.ZodType | undefined;
      const cursor = query.cursor as z.ZodType | undefined;
      expect([id, limit !== undefined, cursor !== undefined]).toEqual([id, true, true]);
      // As the query string carries them: a number from 1 to the largest page, or left out.
      expect(limit?.safeParse('2').data, id).toBe(2);
      expect(limit?.safeParse(undefined).success, id).toBe(true);
      for (const refused of ['0', String(maxPageSize + 1), '1.5', 'x'])
        expect([id, refused, limit?.safeParse(refused).success]).toEqual([id, refused, false]);
      expect(cursor?.safeParse('abc').success, id).toBe(true);
    }
  });

  it('names a reason for each list that pages otherwise, and those still page', () => {
    for (const [id] of Object.entries(otherPaging) as [RouteId, string][]) {
      const contract = routes[id] as RouteContract;
      expect([id, isList(contract)]).toEqual([id, true]);
      expect(contract.query?.shape.after, id).toBeDefined();
    }
  });
});
