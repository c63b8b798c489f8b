/**
 * A run's events, as `rt.agent.events(runId)` and `rt.workflows.events(runId)` answer them: awaited, the
 * events stored so far, in order; iterated with `for await`, the same and then the live ones until the run
 * ends.
 *
 * @example
 * const events = await rt.workflows.events(runId); // the run's events so far
 * for await (const event of rt.workflows.events(runId)) console.log(event.seq, event.type); // until it ends
 */
export interface EventStream<Event> extends AsyncIterable<Event>, PromiseLike<Event[]> {}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/**
 * An `EventStream` over `open(follow)`, which reads a run's event route: awaiting reads the stored events
 * (`follow` false), iterating follows them live unless `follow` is false. Each use opens its own request.
 * @example return eventStream((follow) => http.events('workflowRunsEvents', input(follow), { follow }), true)
 */
export function eventStream<Event>(
  open: (follow: boolean) => AsyncIterable<Event>,
  follow: boolean,
): EventStream<Event> {
  return {
    [Symbol.asyncIterator]: () => open(follow)[Symbol.asyncIterator](),
    // biome-ignore lint/suspicious/noThenProperty: awaiting the stream is its documented use (the events so far)
    then: (onFulfilled, onRejected) => collect(open(false)).then(onFulfilled, onRejected),
  };
}
