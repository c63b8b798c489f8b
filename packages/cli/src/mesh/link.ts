import { hostname } from 'node:os';
import { MeshLinkCreated, type MeshLinkCreateRequest, MeshLinkPoll, MeshNodeName } from '@runtools/spec';
import { exitCodes, UserError } from '../errors.js';

/** A base URL without its trailing slash, so that the same server is recognised however it was typed. */
export function normalizeServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UserError(`${server} is not a URL`, 'e.g. --server http://127.0.0.1:7400');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`${server} is not an http(s) URL`, 'e.g. --server https://runtools.example.com');
  }
  return url.toString().replace(/\/+$/, '');
}

/** The device's hostname as a node name: lowercase letters, digits and single dashes. */
export function defaultNodeName(host: string = hostname()): string {
  const slug = host
    .toLowerCase()
    .split('.')[0]
    ?.replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return slug && MeshNodeName.safeParse(slug).success ? slug : 'device';
}

export function devicePlatform(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `${platform}-${process.arch}`.toLowerCase();
}

/** A failed request as the user should see it: the server's `{ error: { code, message } }` when it sent one. */
async function responseError(response: Response, doing: string): Promise<UserError> {
  const text = await response.text().catch(() => '');
  let code: string | undefined;
  let message = `HTTP ${response.status}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.message === 'string') message = body.error.message;
    if (typeof body.error?.code === 'string') code = body.error.code;
  } catch {}
  const exitCode =
    response.status === 429 || response.status >= 500
      ? exitCodes.connection
      : response.status === 404
        ? exitCodes.notFound
        : exitCodes.internal;
  return new UserError(`${doing}: ${message}${code ? ` (${code})` : ''}`, undefined, exitCode);
}

async function request(url: string, init: RequestInit, doing: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    throw new UserError(
      `${doing}: cannot reach ${new URL(url).origin} (${cause})`,
      'is the server running?',
      exitCodes.connection,
    );
  }
}

export async function createLink(server: string, body: MeshLinkCreateRequest): Promise<MeshLinkCreated> {
  const doing = 'could not start linking';
  const response = await request(
    `${server}/v1/mesh/links`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    doing,
  );
  if (!response.ok) throw await responseError(response, doing);
  const parsed = MeshLinkCreated.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success)
    throw new UserError(`${doing}: the server's answer is not a link`, undefined, exitCodes.internal);
  return parsed.data;
}

export type ApprovedLink = MeshLinkPoll & Required<Pick<MeshLinkPoll, 'node' | 'nodeToken' | 'config'>>;

const linkExpired = () =>
  new UserError('the link code expired; run runtools mesh up again', undefined, exitCodes.internal);

/**
 * Polls the link until it is decided. Approved: the node, its token and config (sent once). Denied or expired:
 * a UserError. A server that does not answer for a while is waited for, until the code would have expired.
 */
export async function waitForApproval(
  server: string,
  link: MeshLinkCreated,
  options: { log: (line: string) => void; sleep?: (ms: number) => Promise<void> },
): Promise<ApprovedLink> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const intervalMs = Math.max(1, link.pollIntervalSeconds) * 1000;
  const giveUpAt = Date.parse(link.expiresAt) + 60_000;
  let unreachable = false;
  for (;;) {
    await sleep(intervalMs);
    let response: Response;
    try {
      response = await request(
        `${server}/v1/mesh/links/${encodeURIComponent(link.linkId)}`,
        { headers: { authorization: `Bearer ${link.pollToken}` } },
        'could not poll the link',
      );
    } catch (error) {
      if (Date.now() > giveUpAt) throw error;
      if (!unreachable) options.log('the server is not answering; still waiting for the approval');
      unreachable = true;
      continue;
    }
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      if (Date.now() > giveUpAt) throw linkExpired();
      continue;
    }
    if (!response.ok) {
      const error = await responseError(response, 'could not poll the link');
      if (error.message.includes('(mesh_link_expired)')) throw linkExpired();
      throw error;
    }
    unreachable = false;
    const parsed = MeshLinkPoll.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) {
      throw new UserError("could not poll the link: the server's answer is not a link", undefined, exitCodes.internal);
    }
    const poll = parsed.data;
    switch (poll.status) {
      case 'pending':
        continue;
      case 'denied':
        throw new UserError('the link was denied', undefined, exitCodes.internal);
      case 'expired':
        throw linkExpired();
      case 'approved': {
        const { node, nodeToken, config } = poll;
        if (!node || !nodeToken || !config) {
          throw new UserError(
            'the link was approved, but the answer has no node token (it is sent once: was the link polled elsewhere?)',
            'run: runtools mesh up again',
            exitCodes.internal,
          );
        }
        return { ...poll, node, nodeToken, config };
      }
    }
  }
}
