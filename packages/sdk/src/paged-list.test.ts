import { describe, expect, expectTypeOf, it } from 'vitest';
import type { RunTools, Sandbox } from './index.js';
import { type Page, PagedList, type PageOptions } from './paged-list.js';

/** A list of `count` numbers served `limit` (default 3) a page, recording each read. */
function numbers(count: number) {
  const reads: PageOptions[] = [];
  const list = new PagedList(async (options): Promise<Page<number>> => {
    reads.push(options);
    const start = options.cursor === undefined ? 0 : Number(options.cursor);
    const end = Math.min(count, start + (options.limit ?? 3));
    const data = Array.from({ length: end - start }, (_, index) => start + index);
    return { data, nextCursor: end < count ? String(end) : null };
  });
  return { list, reads };
}

describe('PagedList', () => {
  it('answers every item when awaited, reading the pages once however often it is awaited', async () => {
    const { list, reads } = numbers(7);
    expect(await list).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(await list).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(reads.map((read) => read.cursor)).toEqual([undefined, '3', '6']);
    expect(await Promise.all([numbers(2).list, numbers(0).list])).toEqual([[0, 1], []]);
  });

  it('reads a page only when for await gets to it, and no more after a break', async () => {
    const { list, reads } = numbers(7);
    const seen: number[] = [];
    for await (const item of list) {
      seen.push(item);
      if (item === 4) break;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(reads).toHaveLength(2);
  });

  it('reads one page, pages from a cursor, and maps items page by page', async () => {
    const { list } = numbers(7);
    expect(await list.page({ limit: 2 })).toEqual({ data: [0, 1], nextCursor: '2' });
    const sizes: number[][] = [];
    for await (const page of list.pages({ limit: 2, cursor: '2' })) sizes.push(page.data);
    expect(sizes).toEqual([[2, 3], [4, 5], [6]]);
    expect(await list.map((item) => item * 10).page({ limit: 2, cursor: '5' })).toEqual({
      data: [50, 60],
      nextCursor: null,
    });
  });

  it('rejects when a page cannot be read, through await, catch and for await', async () => {
    const failing = new PagedList<number>(async () => {
      throw new Error('no page');
    });
    await expect(failing).rejects.toThrow('no page');
    expect(await failing.catch(() => 'caught')).toBe('caught');
    await expect(
      (async () => {
        for await (const _ of failing);
      })(),
    ).rejects.toThrow('no page');
  });

  it('types an awaited list as the array of its items', () => {
    expectTypeOf<Awaited<PagedList<number>>>().toEqualTypeOf<number[]>();
    expectTypeOf<ReturnType<RunTools['sandboxes']['list']>>().toEqualTypeOf<PagedList<Sandbox>>();
    expectTypeOf<Awaited<ReturnType<RunTools['secrets']['list']>>>().items.toHaveProperty('name');
    expectTypeOf<ReturnType<PagedList<string>['page']>>().resolves.toEqualTypeOf<Page<string>>();
  });
});
