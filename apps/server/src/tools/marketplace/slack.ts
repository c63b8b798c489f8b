import { LogLevel, type WebAPICallResult, WebClient } from '@slack/web-api';
import { type OfficialTool, type OfficialToolContext, upstreamError } from './official-tool.js';

const provider = 'Slack';

// Slack answers almost every refusal with HTTP 200 and `{ ok: false, error }`: these codes are the ones that mean
// the credential (401-like), a missing resource (404-like) or a rate limit (429-like). Any other code is the
// service refusing the call itself, reported with Slack's code.
const authCodes = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'not_allowed_token_type',
]);
const notFoundCodes = new Set(['channel_not_found', 'user_not_found']);

type SlackFailure = WebAPICallResult & { error?: string; needed?: string; provided?: string };

/** Slack's error code with the detail Slack sent beside it (an invalid_arguments answer names the argument). */
function describe(result: SlackFailure): string {
  const code = result.error ?? 'unknown_error';
  const messages = result.response_metadata?.messages ?? [];
  return messages.length ? `${code}: ${messages.join('; ')}` : code;
}

/**
 * Runs one Web API call through Slack's own client, with its retries off and a rate-limited call rejected at once
 * (the client would otherwise wait out Retry-After behind the agent's back), and maps Slack's refusals to tool
 * errors with Slack's error code. The client takes no abort signal of its own, so its fetch carries the call's.
 */
async function call<T>(context: OfficialToolContext, run: (client: WebClient) => Promise<T>): Promise<T> {
  // What the last answer was, read off the wire: the client turns a 429 without a usable Retry-After into a
  // plain Error, and a 429's body (Slack's `ratelimited`) never reaches the caller otherwise.
  let lastStatus: number | undefined;
  let lastBody: SlackFailure | undefined;
  const client = new WebClient(context.credentials.token, {
    slackApiUrl: `${context.baseUrl.replace(/\/+$/, '')}/api/`,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: LogLevel.ERROR,
    fetch: async (url, init) => {
      const response = await fetch(url, { ...(init as RequestInit), signal: context.signal });
      lastStatus = response.status;
      if (response.status === 429) {
        lastBody = (await response
          .clone()
          .json()
          .catch(() => undefined)) as SlackFailure | undefined;
      }
      return response;
    },
  });
  try {
    return await run(client);
  } catch (error) {
    if (context.signal.aborted) throw error;
    const failure = error as {
      code?: string;
      data?: SlackFailure;
      retryAfter?: number;
      statusCode?: number;
      statusMessage?: string;
      body?: unknown;
      original?: Error;
    };
    if (failure.code === 'slack_webapi_rate_limited_error' || lastStatus === 429) {
      throw upstreamError(
        provider,
        429,
        lastBody?.error ?? 'ratelimited',
        typeof failure.retryAfter === 'number' ? failure.retryAfter : undefined,
      );
    }
    if (failure.code === 'slack_webapi_platform_error' && failure.data) {
      const data = failure.data;
      const code = data.error ?? '';
      if (authCodes.has(code)) throw upstreamError(provider, 401, describe(data));
      if (code === 'missing_scope') {
        // Slack names the scope the method needs and the ones the token has: what the user must grant.
        const scopes = [data.needed && `needs the scope ${data.needed}`, data.provided && `has ${data.provided}`];
        const detail = scopes.filter(Boolean).join('; it only ');
        throw upstreamError(provider, 403, detail ? `missing_scope: the token ${detail}` : 'missing_scope');
      }
      if (notFoundCodes.has(code)) throw upstreamError(provider, 404, describe(data));
      if (code === 'ratelimited' || code === 'rate_limited') {
        throw upstreamError(provider, 429, describe(data), data.response_metadata?.retryAfter);
      }
      throw upstreamError(provider, undefined, describe(data));
    }
    if (failure.code === 'slack_webapi_http_error') {
      // The client parses a JSON body: Slack's `{ ok: false, error }` names the failure; anything else is shown as is.
      const body = failure.body as SlackFailure | string | undefined;
      const message =
        typeof body === 'object' && body !== null && typeof body.error === 'string'
          ? describe(body)
          : typeof body === 'string' && body
            ? body.slice(0, 500)
            : (failure.statusMessage ?? 'no body');
      throw upstreamError(provider, failure.statusCode, message);
    }
    if (failure.code === 'slack_webapi_request_error') {
      throw upstreamError(provider, undefined, `no answer: ${failure.original?.message ?? 'request failed'}`);
    }
    throw error;
  }
}

const cursorParam = {
  type: 'string',
  minLength: 1,
  maxLength: 500,
  description: 'nextCursor of the previous page',
};
const timestamp = {
  type: 'string',
  pattern: '^\\d{1,12}(\\.\\d{1,6})?$',
  description: 'a Slack timestamp (Unix seconds, as a message ts: 1712345678.123456)',
};
const channelParam = {
  type: 'string',
  pattern: '^[CGD][A-Z0-9]{2,20}$',
  description: 'a conversation id (C…, G… or D…), as list_channels gives it',
};

/** The next page's cursor: Slack sends an empty string on the last page. */
const nextCursor = (result: WebAPICallResult): string | null => result.response_metadata?.next_cursor || null;

type Message = {
  type?: string;
  subtype?: string;
  ts?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  thread_ts?: string;
  reply_count?: number;
};
const message = (item: Message) => ({
  ts: item.ts ?? null,
  user: item.user ?? null,
  bot_id: item.bot_id ?? null,
  subtype: item.subtype ?? null,
  text: item.text ?? '',
  thread_ts: item.thread_ts ?? null,
  reply_count: item.reply_count ?? 0,
});

type Member = {
  id?: string;
  name?: string;
  real_name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_admin?: boolean;
  tz?: string;
  profile?: { real_name?: string; display_name?: string; email?: string; title?: string };
};
const user = (item: Member) => ({
  id: item.id ?? null,
  name: item.name ?? null,
  real_name: item.real_name ?? item.profile?.real_name ?? null,
  display_name: item.profile?.display_name || null,
  title: item.profile?.title || null,
  email: item.profile?.email ?? null,
  is_bot: item.is_bot ?? false,
  is_admin: item.is_admin ?? false,
  deleted: item.deleted ?? false,
  tz: item.tz ?? null,
});

/** Slack: post messages, list channels and read their history, and look people up, through Slack's Web API. */
export const slack: OfficialTool = {
  name: 'slack',
  description:
    'Slack: post messages (in threads too), list channels, read a channel’s history, list and look up workspace members',
  provider,
  auth: {
    kind: 'oauth',
    provider: 'slack',
    scopes: [
      'chat:write',
      'channels:read',
      'groups:read',
      'im:read',
      'mpim:read',
      'channels:history',
      'groups:history',
      'im:history',
      'mpim:history',
      'users:read',
    ],
  },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: 'a Slack bot (xoxb-) or user (xoxp-) token' } },
  },
  defaultBaseUrl: 'https://slack.com',
  actions: {
    post_message: {
      description:
        'Post a message to a channel (or a reply in a thread with thread_ts); text is Slack mrkdwn and the notification text when blocks are given',
      parameters: {
        type: 'object',
        properties: {
          channel: {
            type: 'string',
            minLength: 1,
            maxLength: 80,
            description: 'a conversation id (C…) or a channel name (#general)',
          },
          text: { type: 'string', minLength: 1, maxLength: 40000 },
          thread_ts: { ...timestamp, description: 'the ts of the message to reply to, in its thread' },
          blocks: {
            type: 'array',
            maxItems: 50,
            items: {
              type: 'object',
              properties: { type: { type: 'string', minLength: 1, maxLength: 50 } },
              required: ['type'],
            },
            description: 'Block Kit blocks',
          },
        },
        required: ['channel', 'text'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (client) => {
          const response = await client.chat.postMessage({
            channel: params.channel as string,
            text: params.text as string,
            ...(params.thread_ts !== undefined ? { thread_ts: params.thread_ts as string } : {}),
            ...(params.blocks !== undefined ? { blocks: params.blocks as never } : {}),
          });
          return {
            channel: response.channel ?? null,
            ts: response.ts ?? null,
            thread_ts: response.message?.thread_ts ?? null,
            text: response.message?.text ?? null,
          };
        }),
    },
    list_channels: {
      description: 'Conversations in the workspace the token can see, a page at a time',
      parameters: {
        type: 'object',
        properties: {
          types: {
            type: 'array',
            items: { type: 'string', enum: ['public_channel', 'private_channel', 'mpim', 'im'] },
            minItems: 1,
            maxItems: 4,
            uniqueItems: true,
            default: ['public_channel'],
          },
          excludeArchived: { type: 'boolean', default: true },
          limit: { type: 'integer', minimum: 1, maximum: 999, default: 100 },
          cursor: cursorParam,
        },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (client) => {
          const response = await client.conversations.list({
            types: ((params.types as string[] | undefined) ?? ['public_channel']).join(','),
            exclude_archived: (params.excludeArchived as boolean | undefined) ?? true,
            limit: (params.limit as number | undefined) ?? 100,
            ...(params.cursor !== undefined ? { cursor: params.cursor as string } : {}),
          });
          return {
            channels: (response.channels ?? []).map((channel) => ({
              id: channel.id ?? null,
              name: channel.name ?? null,
              is_private: channel.is_private ?? false,
              is_archived: channel.is_archived ?? false,
              is_member: channel.is_member ?? false,
              num_members: channel.num_members ?? null,
              topic: channel.topic?.value || null,
              purpose: channel.purpose?.value || null,
            })),
            nextCursor: nextCursor(response),
          };
        }),
    },
    get_channel_history: {
      description:
        'Messages of a conversation, newest first, a page at a time; oldest and latest bound the time range (Slack timestamps)',
      parameters: {
        type: 'object',
        properties: {
          channel: channelParam,
          limit: { type: 'integer', minimum: 1, maximum: 999, default: 20 },
          cursor: cursorParam,
          oldest: { ...timestamp, description: 'only messages after this time' },
          latest: { ...timestamp, description: 'only messages before this time' },
        },
        required: ['channel'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (client) => {
          const response = await client.conversations.history({
            channel: params.channel as string,
            limit: (params.limit as number | undefined) ?? 20,
            ...(params.cursor !== undefined ? { cursor: params.cursor as string } : {}),
            ...(params.oldest !== undefined ? { oldest: params.oldest as string } : {}),
            ...(params.latest !== undefined ? { latest: params.latest as string } : {}),
          });
          return {
            messages: (response.messages ?? []).map(message),
            hasMore: response.has_more ?? false,
            nextCursor: nextCursor(response),
          };
        }),
    },
    list_users: {
      description: 'Members of the workspace (people and bots, deleted ones marked), a page at a time',
      parameters: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 100 },
          cursor: cursorParam,
        },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (client) => {
          const response = await client.users.list({
            limit: (params.limit as number | undefined) ?? 100,
            ...(params.cursor !== undefined ? { cursor: params.cursor as string } : {}),
          });
          return { users: (response.members ?? []).map(user), nextCursor: nextCursor(response) };
        }),
    },
    get_user: {
      description: 'One member of the workspace by id (U… or W…)',
      parameters: {
        type: 'object',
        properties: { user: { type: 'string', pattern: '^[UWB][A-Z0-9]{2,20}$', description: 'a user id' } },
        required: ['user'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (client) => {
          const response = await client.users.info({ user: params.user as string });
          return user((response.user ?? {}) as Member);
        }),
    },
  },
};
