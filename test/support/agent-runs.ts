import type { RunEvent, RunTools } from '@runtools/sdk';
import type { ModelServer } from './model-server.js';

/** What one agent run gave: its events, the model tools its first model request offered, each tool call's result. */
export interface AgentRunOutcome {
  events: RunEvent[];
  offered: string[];
  results: Record<string, { isError: boolean; output: unknown }>;
}

/**
 * Runs an agent to its end as a stream, then waits until the run's own sandbox is destroyed (so that no
 * destroy is still in flight when the test's server closes), and answers what the run gave, tool results by
 * their call id.
 */
export async function runAgentToEnd(
  rt: RunTools,
  model: ModelServer,
  slug: string,
  prompt: string,
): Promise<AgentRunOutcome> {
  const before = model.requests.length;
  const events: RunEvent[] = [];
  for await (const event of rt.agent.run(slug, prompt, { stream: true })) events.push(event);
  const start = events.find((event): event is Extract<RunEvent, { type: 'start' }> => event.type === 'start');
  const destroyed = async () =>
    (await rt.sandboxes
      .get(start?.sandboxId ?? '')
      .then((sandbox) => sandbox.status === 'destroyed')
      .catch((error: { code?: string }) => error.code === 'sandbox_not_found')) as boolean;
  while (!(await destroyed())) await new Promise((resolve) => setTimeout(resolve, 100));
  const offered = (
    (model.requests[before]?.body as { tools?: { function: { name: string } }[] } | undefined)?.tools ?? []
  ).map((entry) => entry.function.name);
  const results = Object.fromEntries(
    events
      .filter((event): event is Extract<RunEvent, { type: 'tool-result' }> => event.type === 'tool-result')
      .map((event) => [event.toolCallId, { isError: event.isError, output: event.output }]),
  );
  return { events, offered, results };
}

/** The org's model provider `mock` (an OpenAI-compatible endpoint: the model server), its key a provider secret. */
export async function addMockProvider(rt: RunTools, model: ModelServer): Promise<void> {
  await rt.secrets.set('MOCK_KEY', 'sk-mock', { category: 'provider' });
  await rt.providers.create({
    name: 'mock',
    type: 'openai-compatible',
    baseUrl: model.openaiBaseUrl,
    apiKeySecret: 'MOCK_KEY',
  });
}

/** An SDK error as tests read it. */
export interface CallFailure {
  code: string;
  status?: number;
  message: string;
  details?: Record<string, unknown>;
}

/** The error a call ends with, as the SDK raised it; a call that succeeds fails the test. */
export async function failureOf(call: Promise<unknown>): Promise<CallFailure> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!error) throw new Error('the call succeeded');
  return error as CallFailure;
}
