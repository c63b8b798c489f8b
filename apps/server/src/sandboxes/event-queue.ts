/**
 * A stream of events for a server-sent-events route. Unlike an async generator, `return()` takes effect at
 * once even while a `next()` is waiting, so a client that goes away stops the work behind the stream
 * immediately (an async generator would queue the return until its next event, which a silent command
 * never sends).
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly queued: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;
  private closed = false;

  /** `onClose` runs once: when the consumer stops early (not after `end`). */
  constructor(private readonly onClose: () => void = () => {}) {}

  push(event: T): void {
    if (this.ended || this.closed) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: event, done: false });
    } else {
      this.queued.push(event);
    }
  }

  /** No more events after the queued ones. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiting && this.queued.length === 0) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  get isEnded(): boolean {
    return this.ended || this.closed;
  }

  next(): Promise<IteratorResult<T>> {
    const event = this.queued.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.ended || this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.closed) {
      this.closed = true;
      if (!this.ended) this.onClose();
      this.queued.length = 0;
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve?.({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
