import { DiscordAPIError, HTTPError, RateLimitError, REST } from '@discordjs/rest';
import {
  type APIChannel,
  type APIMessage,
  type RESTGetAPICurrentUserGuildsResult,
  type RESTPostAPIChannelMessageResult,
  Routes,
} from 'discord-api-types/v10';
import { DomainError } from '../../errors.js';
import { type OfficialTool, type OfficialToolContext, upstreamError } from './official-tool.js';

const provider = 'Discord';

type ErrorBody = { code?: number; message?: string; retry_after?: number; global?: boolean };

/**
 * Runs one call through discord.js's REST client with the bot token. The client is made per call with its
 * sweeper timers off (a client per call would otherwise leave two intervals behind), no retries, and every rate
 * limit rejected rather than slept through: the agent learns when to come back instead of the call hanging.
 * Its fetch records the last error body, because the client's RateLimitError and HTTPError drop Discord's own
 * message (and a 429's float retry_after).
 */
async function call<T>(context: OfficialToolContext, run: (rest: REST) => Promise<T>): Promise<T> {
  let errorBody: ErrorBody | undefined;
  const rest = new REST({
    api: context.baseUrl.replace(/\/+$/, ''),
    version: '10',
    retries: 0,
    offset: 0,
    rejectOnRateLimit: () => true,
    hashSweepInterval: 0,
    handlerSweepInterval: 0,
    makeRequest: async (url, init) => {
      const response = await fetch(url, init as RequestInit);
      if (response.status >= 400) {
        errorBody = (await response
          .clone()
          .json()
          .catch(() => undefined)) as ErrorBody | undefined;
      }
      return response;
    },
  }).setToken(context.credentials.botToken ?? '');
  try {
    return await run(rest);
  } catch (error) {
    if (context.signal.aborted) throw error;
    if (error instanceof RateLimitError) {
      // Discord's body says how long in seconds (a float); the client's figure is in milliseconds.
      const seconds = errorBody?.retry_after ?? error.retryAfter / 1000;
      const scope = error.global ? ' (global)' : '';
      throw upstreamError(
        provider,
        429,
        `${errorBody?.message ?? 'You are being rate limited.'}${scope}`,
        Math.ceil(seconds),
      );
    }
    if (error instanceof DiscordAPIError) {
      // The message holds Discord's own, with each invalid field of an Invalid Form Body after it.
      throw upstreamError(provider, error.status, `${error.message} (code ${error.code})`);
    }
    if (error instanceof HTTPError) {
      const message = errorBody?.message ?? error.message;
      throw upstreamError(provider, error.status, message);
    }
    throw upstreamError(provider, undefined, `no answer: ${(error as Error).message}`);
  }
}

const snowflake = { type: 'string', pattern: '^\\d{15,21}$' };

type Author = { id: string; username: string; global_name?: string | null; bot?: boolean };
const message = (item: APIMessage | RESTPostAPIChannelMessageResult) => ({
  id: item.id,
  channel_id: item.channel_id,
  author: {
    id: item.author.id,
    username: item.author.username,
    global_name: (item.author as Author).global_name ?? null,
    bot: item.author.bot ?? false,
  },
  content: item.content,
  timestamp: item.timestamp,
  edited_timestamp: item.edited_timestamp,
  embeds: item.embeds.map((embed) => ({
    title: embed.title ?? null,
    description: embed.description ?? null,
    url: embed.url ?? null,
  })),
  attachments: item.attachments.map((attachment) => ({
    id: attachment.id,
    filename: attachment.filename,
    url: attachment.url,
    size: attachment.size,
  })),
  referenced_message_id: item.message_reference?.message_id ?? null,
});

const embed = {
  type: 'object',
  properties: {
    title: { type: 'string', maxLength: 256 },
    description: { type: 'string', maxLength: 4096 },
    url: { type: 'string', pattern: '^https?://', maxLength: 2048 },
    color: { type: 'integer', minimum: 0, maximum: 0xffffff },
    fields: {
      type: 'array',
      maxItems: 25,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 256 },
          value: { type: 'string', minLength: 1, maxLength: 1024 },
          inline: { type: 'boolean' },
        },
        required: ['name', 'value'],
        additionalProperties: false,
      },
    },
    footer: {
      type: 'object',
      properties: { text: { type: 'string', minLength: 1, maxLength: 2048 } },
      required: ['text'],
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

/** Discord: a bot's messages, servers (guilds) and channels, through Discord's HTTP API v10. */
export const discord: OfficialTool = {
  name: 'discord',
  description: 'Discord (as a bot): send messages, list the bot’s servers and their channels, read channel messages',
  provider,
  // Discord's OAuth2 only adds a bot to a server; the bot's calls are made with its token.
  auth: { kind: 'api_key' },
  credentials: {
    required: ['botToken'],
    schema: {
      botToken: {
        type: 'string',
        description: 'the bot token from the Discord developer portal (Application → Bot → Reset Token)',
      },
    },
  },
  defaultBaseUrl: 'https://discord.com/api',
  actions: {
    send_message: {
      description: 'Send a message to a channel (text, embeds or both); replyTo makes it a reply to a message',
      parameters: {
        type: 'object',
        properties: {
          channelId: snowflake,
          content: { type: 'string', minLength: 1, maxLength: 2000 },
          embeds: { type: 'array', items: embed, minItems: 1, maxItems: 10 },
          replyTo: { ...snowflake, description: 'the id of a message in the channel to reply to' },
        },
        required: ['channelId'],
        additionalProperties: false,
      },
      execute: (params, context) => {
        // Said here rather than as a top-level anyOf: models' function schemas refuse combinators at the top.
        if (params.content === undefined && params.embeds === undefined) {
          throw new DomainError('tool_params_invalid', 'send_message needs content, embeds or both', {
            errors: [{ path: '/', message: 'must have content or embeds' }],
          });
        }
        return call(context, async (rest) => {
          const sent = (await rest.post(Routes.channelMessages(params.channelId as string), {
            body: {
              ...(params.content !== undefined ? { content: params.content } : {}),
              ...(params.embeds !== undefined ? { embeds: params.embeds } : {}),
              ...(params.replyTo !== undefined ? { message_reference: { message_id: params.replyTo } } : {}),
            },
            signal: context.signal,
          })) as RESTPostAPIChannelMessageResult;
          return message(sent);
        });
      },
    },
    list_guilds: {
      description:
        'The servers (guilds) the bot is in, by id ascending, a page at a time (pass nextAfter as after for the next)',
      parameters: {
        type: 'object',
        properties: {
          after: { ...snowflake, description: 'only servers with an id after this one' },
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 200 },
        },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (rest) => {
          const limit = (params.limit as number | undefined) ?? 200;
          const query = new URLSearchParams({ limit: String(limit), with_counts: 'true' });
          if (params.after !== undefined) query.set('after', params.after as string);
          const guilds = (await rest.get(Routes.userGuilds(), {
            query,
            signal: context.signal,
          })) as RESTGetAPICurrentUserGuildsResult;
          return {
            guilds: guilds.map((guild) => ({
              id: guild.id,
              name: guild.name,
              icon: guild.icon,
              owner: guild.owner,
              permissions: guild.permissions,
              approximate_member_count: guild.approximate_member_count ?? null,
            })),
            // A full page may have more after it; a short one is the last.
            nextAfter: guilds.length === limit ? (guilds.at(-1)?.id ?? null) : null,
          };
        }),
    },
    list_channels: {
      description: 'The channels of a server (text, voice, categories, …) with their category (parent_id) and position',
      parameters: {
        type: 'object',
        properties: { guildId: snowflake },
        required: ['guildId'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (rest) => {
          const channels = (await rest.get(Routes.guildChannels(params.guildId as string), {
            signal: context.signal,
          })) as APIChannel[];
          return {
            channels: channels.map((channel) => {
              const fields = channel as APIChannel & { position?: number; parent_id?: string | null; topic?: string };
              return {
                id: channel.id,
                name: channel.name ?? null,
                type: channel.type,
                parent_id: fields.parent_id ?? null,
                position: fields.position ?? null,
                topic: fields.topic ?? null,
              };
            }),
          };
        }),
    },
    get_messages: {
      description:
        'Messages of a channel, newest first; before or after a message id for older or newer ones (nextBefore pages back)',
      parameters: {
        type: 'object',
        properties: {
          channelId: snowflake,
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
          before: { ...snowflake, description: 'only messages older than this message id' },
          after: { ...snowflake, description: 'only messages newer than this message id' },
        },
        required: ['channelId'],
        additionalProperties: false,
      },
      execute: (params, context) => {
        if (params.before !== undefined && params.after !== undefined) {
          throw new DomainError('tool_params_invalid', 'get_messages takes before or after, not both', {
            errors: [{ path: '/', message: 'must not have both before and after' }],
          });
        }
        return call(context, async (rest) => {
          const limit = (params.limit as number | undefined) ?? 50;
          const query = new URLSearchParams({ limit: String(limit) });
          if (params.before !== undefined) query.set('before', params.before as string);
          if (params.after !== undefined) query.set('after', params.after as string);
          const messages = (await rest.get(Routes.channelMessages(params.channelId as string), {
            query,
            signal: context.signal,
          })) as APIMessage[];
          const oldest = messages.reduce<string | null>(
            (found, item) => (found === null || BigInt(item.id) < BigInt(found) ? item.id : found),
            null,
          );
          return {
            messages: messages.map(message),
            nextBefore: messages.length === limit && params.after === undefined ? oldest : null,
          };
        });
      },
    },
  },
};
