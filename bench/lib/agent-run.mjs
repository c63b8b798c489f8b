/**
 * Runs one agent run to its end as a stream and splits its wall time into the model's (measured by the model
 * server, first byte in to last byte out), the tools' (each tool-result's durationMs) and the rest: the platform.
 * Throws unless the run completed.
 */
export async function measureAgentRun(rt, model, slug, turns) {
  model.reset();
  model.script(turns);
  const started = performance.now();
  const events = [];
  for await (const event of rt.agent.run(slug, 'go', { stream: true })) events.push(event);
  const wall = performance.now() - started;
  const done = events.at(-1);
  if (done?.type !== 'done' || done.status !== 'completed')
    throw new Error(`run did not complete: ${JSON.stringify(done)}`);
  const modelMs = model.requests.reduce((sum, request) => sum + (request.durationMs ?? 0), 0);
  const toolCalls = events.filter((event) => event.type === 'tool-result').map((event) => event.durationMs);
  const toolMs = toolCalls.reduce((sum, ms) => sum + ms, 0);
  return { events, wall, modelMs, toolMs, toolCalls, platform: wall - modelMs - toolMs, steps: done.steps };
}
