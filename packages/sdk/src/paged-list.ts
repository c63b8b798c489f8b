/**
 * One page of a list: its items in the list's order, and the cursor of the page after it (null on the last).
 * @example const { data, nextCursor } = await rt.secrets.list().page({ limit: 10 })
 */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/**
 * Which page to read: up to `limit` items (the server's default, 100, when left out; at most 1000), after the
 * page whose `nextCursor` is `cursor` (the first page without one).
 * @example await rt.sandboxes.list().page({ limit: 50, cursor: previous.nextCursor ?? undefined })
 */
export interface PageOptions {
  limit?: number | undefined;
  cursor?: string | undefined;
}

/**
 * A list the API answers a page at a time, read only as far as it is used: `await` it for every item (it reads
 * page after page), `for await` over it to read the pages as the loop goes (a `break` reads no more), or read
 * one page with `page()`. Each item is seen once, in the list's order, even when items are added or removed
 * between pages.
 *
 * @example
 * const sandboxes = await rt.sandboxes.list(); // every sandbox, however many pages
 * for await (const secret of rt.secrets.list()) console.log(secret.name);
 * const { data, nextCursor } = await rt.workspaces.list().page({ limit: 20 });
 */
export class PagedList<T> implements PromiseLike<T[]>, AsyncIterable<T> {
  private all: Promise<T[]> | undefined;

  /** `read` answers one page; the resources make these, there is no need to make one. */
  constructor(private readonly read: (options: PageOptions) => Promise<Page<T>>) {}

  /**
   * One page.
   * @example const first = await rt.agents.list().page({ limit: 10 }); const next = await rt.agents.list().page({ limit: 10, cursor: first.nextCursor ?? undefined })
   */
  page(options: PageOptions = {}): Promise<Page<T>> {
    return this.read(options);
  }

  /**
   * Each page in turn, `limit` items each, from `cursor` on (the first page without one), until the last.
   * @example for await (const page of rt.secrets.list().pages({ limit: 500 })) console.log(page.data.length)
   */
  async *pages(options: PageOptions = {}): AsyncGenerator<Page<T>, void, undefined> {
    let cursor = options.cursor;
    do {
      const page = await this.read({ limit: options.limit, cursor });
      yield page;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Every item, page by page as the loop reaches them. @example for await (const run of rt.agent.list()) … */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.data;
  }

  /**
   * The same list with each item mapped, still read a page at a time.
   * @example const ids = await rt.sandboxes.list().map((sandbox) => sandbox.id)
   */
  map<U>(mapItem: (item: T) => U): PagedList<U> {
    return new PagedList(async (options) => {
      const page = await this.read(options);
      return { data: page.data.map(mapItem), nextCursor: page.nextCursor };
    });
  }

  // biome-ignore lint/suspicious/noThenProperty: awaiting a list answers all of it, as it did before lists had pages
  then<Fulfilled = T[], Rejected = never>(
    onFulfilled?: ((items: T[]) => Fulfilled | PromiseLike<Fulfilled>) | null,
    onRejected?: ((reason: unknown) => Rejected | PromiseLike<Rejected>) | null,
  ): Promise<Fulfilled | Rejected> {
    // Read once however often it is awaited.
    this.all ??= this.collect();
    return this.all.then(onFulfilled, onRejected);
  }

  /** @example const templates = await rt.templates.list().catch(() => []) */
  catch<Rejected = never>(
    onRejected?: ((reason: unknown) => Rejected | PromiseLike<Rejected>) | null,
  ): Promise<T[] | Rejected> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T[]> {
    return this.then().finally(onFinally);
  }

  private async collect(): Promise<T[]> {
    const items: T[] = [];
    for await (const page of this.pages()) items.push(...page.data);
    return items;
  }
}
