import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Discord's HTTP API v10 on loopback (`<url>/v10/...`, as `https://discord.com/api/v10/...`): the
 * bot's token as `Authorization: Bot <token>`, the `DiscordBot (url, version)` User-Agent Discord requires,
 * snowflake ids as strings, Discord's error bodies (`{ code, message, errors? }`: 401 Unauthorized, 403 Missing
 * Access 50001 / Missing Permissions 50013, 404 Unknown Channel 10003 / Unknown Guild 10004 / Unknown Message,
 * 400 Invalid Form Body 50035 with per-field errors, Cannot send an empty message 50006), X-RateLimit-* headers on
 * every answer and a 429's `retry_after` (seconds, float) with Retry-After. Routes: GET /users/@me/guilds (before,
 * after, limit 1-200, with_counts), GET /guilds/{id}/channels, GET and POST /channels/{id}/messages. A route or a
 * query parameter the API reference does not list is refused (404, or 400 Invalid Form Body), so that a client
 * sending something off the reference fails its test; such refusals are recorded in `offSpec`.
 */
export interface DiscordServer {
  /** The API base, as `https://discord.com/api`. */
  url: string;
  token: string;
  bot: { id: string; username: string };
  guilds: Record<'dev' | 'design' | 'ops' | 'foreign', Guild>;
  channels: Record<'general' | 'announcements' | 'secret' | 'voice' | 'category' | 'designChat', Channel>;
  requests: DiscordRequest[];
  offSpec: { method: string; path: string; errors: string[] }[];
  /** The messages of a channel, oldest first. */
  messagesOf(channelId: string): Message[];
  /** The next request to `path` (e.g. `/api/v10/users/@me/guilds`) gets this answer instead. */
  fail(path: string, status: number, body: Record<string, unknown>, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export interface DiscordRequest {
  method: string;
  pathname: string;
  query: Record<string, string>;
  authorization: string | undefined;
  userAgent: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

export interface Guild {
  id: string;
  name: string;
  /** Whether the bot has been added to it. */
  botIsMember: boolean;
  memberCount: number;
}
export interface Channel {
  id: string;
  guild_id: string;
  name: string;
  type: 0 | 2 | 4 | 5;
  parent_id: string | null;
  position: number;
  topic: string | null;
  /** What the bot may do there. */
  bot: 'send' | 'read' | 'none';
}
export interface Message {
  id: string;
  channel_id: string;
  author: { id: string; username: string; global_name: string | null; bot?: boolean };
  content: string;
  embeds: Record<string, unknown>[];
  timestamp: string;
  message_reference?: { type: 0; message_id: string; channel_id: string; guild_id: string };
}

// Discord's epoch (2015-01-01): a snowflake is milliseconds since it, shifted left 22 bits, with a counter.
const discordEpoch = 1_420_070_400_000n;
let increment = 0n;
const snowflakeAt = (ms: number) => String(((BigInt(ms) - discordEpoch) << 22n) | (increment++ & 0xfffn));
const timeOf = (id: string) => new Date(Number((BigInt(id) >> 22n) + discordEpoch));
/** Discord's timestamp form: microseconds and an explicit +00:00. */
const discordTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');

class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}
const formError = (errors: Record<string, unknown>) =>
  new Answer(400, { message: 'Invalid Form Body', code: 50035, errors });
const fieldError = (code: string, message: string) => ({ _errors: [{ code, message }] });

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// The fields of "Create Message" (JSON body) and of an embed, from Discord's reference.
const messageFields = new Set([
  'content',
  'nonce',
  'tts',
  'embeds',
  'allowed_mentions',
  'message_reference',
  'components',
  'sticker_ids',
  'attachments',
  'flags',
  'enforce_nonce',
  'poll',
]);
const embedFields = new Set([
  'title',
  'type',
  'description',
  'url',
  'timestamp',
  'color',
  'footer',
  'image',
  'thumbnail',
  'video',
  'provider',
  'author',
  'fields',
]);

export async function startDiscordServer(): Promise<DiscordServer> {
  const start = Date.parse('2026-11-01T09:00:00Z');
  let clock = start;
  const now = () => {
    clock += 1000;
    return clock;
  };
  const bot = { id: snowflakeAt(start - 86_400_000), username: 'RunTools' };
  const token = `${Buffer.from(bot.id).toString('base64')}.GhRtFk.FakeDiscordBotTokenForTests000000000000`;
  const guild = (name: string, botIsMember: boolean, memberCount: number): Guild => ({
    id: snowflakeAt(start - 3_600_000),
    name,
    botIsMember,
    memberCount,
  });
  const guilds = {
    dev: guild('RunTools Dev', true, 42),
    design: guild('Design', true, 7),
    ops: guild('Ops', true, 3),
    foreign: guild('Somewhere Else', false, 900),
  };
  const channel = (
    guildId: string,
    name: string,
    type: Channel['type'],
    position: number,
    extra: Partial<Channel> = {},
  ): Channel => ({
    id: snowflakeAt(start - 1_800_000),
    guild_id: guildId,
    name,
    type,
    parent_id: null,
    position,
    topic: null,
    bot: 'send',
    ...extra,
  });
  const category = channel(guilds.dev.id, 'Text Channels', 4, 0);
  const channels = {
    category,
    general: channel(guilds.dev.id, 'general', 0, 0, { parent_id: category.id, topic: 'Anything goes' }),
    announcements: channel(guilds.dev.id, 'announcements', 5, 1, { parent_id: category.id, bot: 'read' }),
    secret: channel(guilds.dev.id, 'secret', 0, 2, { parent_id: category.id, bot: 'none' }),
    voice: channel(guilds.dev.id, 'Lounge', 2, 0),
    designChat: channel(guilds.design.id, 'design-chat', 0, 0),
  };
  const allChannels = Object.values(channels);
  const people = {
    ann: { id: snowflakeAt(start - 7_200_000), username: 'ann', global_name: 'Ann' },
    bob: { id: snowflakeAt(start - 7_200_000), username: 'bob', global_name: 'Bob' },
  };
  const history = new Map<string, Message[]>(allChannels.map((entry) => [entry.id, []]));
  const post = (channelId: string, author: Message['author'], content: string, extra: Partial<Message> = {}) => {
    const id = snowflakeAt(now());
    const message: Message = {
      id,
      channel_id: channelId,
      author,
      content,
      embeds: [],
      timestamp: discordTime(timeOf(id)),
      ...extra,
    };
    history.get(channelId)?.push(message);
    return message;
  };
  post(channels.general.id, people.ann, 'Morning all');
  post(channels.general.id, people.bob, 'The build is green');
  post(channels.general.id, people.ann, 'Shipping at noon');
  post(channels.announcements.id, people.ann, 'v2 is out');

  const requests: DiscordRequest[] = [];
  const offSpec: DiscordServer['offSpec'] = [];
  const failures = new Map<string, Answer>();

  const userJson = (author: Message['author']) => ({
    id: author.id,
    username: author.username,
    avatar: null,
    discriminator: author.bot ? '4821' : '0',
    public_flags: 0,
    flags: 0,
    ...(author.bot ? { bot: true } : {}),
    banner: null,
    accent_color: null,
    global_name: author.global_name,
    avatar_decoration_data: null,
    banner_color: null,
  });
  const messageJson = (message: Message): Record<string, unknown> => {
    const referenced = message.message_reference
      ? history.get(message.channel_id)?.find((entry) => entry.id === message.message_reference?.message_id)
      : undefined;
    return {
      type: message.message_reference ? 19 : 0,
      channel_id: message.channel_id,
      content: message.content,
      attachments: [],
      embeds: message.embeds,
      timestamp: message.timestamp,
      edited_timestamp: null,
      flags: 0,
      components: [],
      id: message.id,
      author: userJson(message.author),
      mentions: [],
      mention_roles: [],
      pinned: false,
      mention_everyone: false,
      tts: false,
      ...(message.message_reference
        ? { message_reference: message.message_reference, referenced_message: referenced && messageJson(referenced) }
        : {}),
    };
  };
  const channelJson = (entry: Channel) => ({
    id: entry.id,
    type: entry.type,
    guild_id: entry.guild_id,
    name: entry.name,
    parent_id: entry.parent_id,
    position: entry.position,
    flags: 0,
    permission_overwrites: [],
    ...(entry.type === 0 || entry.type === 5
      ? {
          topic: entry.topic,
          nsfw: false,
          last_message_id: history.get(entry.id)?.at(-1)?.id ?? null,
          rate_limit_per_user: 0,
        }
      : {}),
    ...(entry.type === 2 ? { bitrate: 64000, user_limit: 0, rtc_region: null } : {}),
  });

  const unknownChannel = () => new Answer(404, { message: 'Unknown Channel', code: 10003 });
  const missingAccess = () => new Answer(403, { message: 'Missing Access', code: 50001 });
  /** A query's integer in [min, max], or the Invalid Form Body error Discord gives for it. */
  const integer = (value: string | undefined, min: number, max: number, fallback: number) => {
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) return fieldError('NUMBER_TYPE_COERCE', `Value "${value}" is not int.`);
    const number = Number(value);
    if (number < min) return fieldError('NUMBER_TYPE_MIN', `int value should be greater than or equal to ${min}.`);
    if (number > max) return fieldError('NUMBER_TYPE_MAX', `int value should be less than or equal to ${max}.`);
    return number;
  };
  const isSnowflake = (value: string | undefined) => value === undefined || /^\d{1,20}$/.test(value);

  function checkEmbeds(value: unknown): Record<string, unknown> | undefined {
    if (!Array.isArray(value))
      return { embeds: fieldError('LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType') };
    if (value.length > 10) return { embeds: fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.') };
    const errors: Record<string, unknown> = {};
    value.forEach((embed, index) => {
      if (typeof embed !== 'object' || embed === null) {
        errors[index] = fieldError('DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
        return;
      }
      const fields: Record<string, unknown> = {};
      for (const key of Object.keys(embed)) {
        if (!embedFields.has(key)) fields[key] = fieldError('UNKNOWN_FIELD', 'Unknown field.');
      }
      const limits: [string, number][] = [
        ['title', 256],
        ['description', 4096],
      ];
      for (const [key, max] of limits) {
        const text = (embed as Record<string, unknown>)[key];
        if (text !== undefined && typeof text !== 'string')
          fields[key] = fieldError('BASE_TYPE_STRING', 'Must be a string.');
        else if (typeof text === 'string' && text.length > max)
          fields[key] = fieldError('BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
      }
      if (Object.keys(fields).length) errors[index] = fields;
    });
    return Object.keys(errors).length ? { embeds: errors } : undefined;
  }

  function serve(request: DiscordRequest, route: string, id: string | undefined): Answer {
    const { method, query } = request;
    if (route === 'guilds') {
      const limit = integer(query.limit, 1, 200, 200);
      if (typeof limit !== 'number') return formError({ limit });
      if (!isSnowflake(query.before) || !isSnowflake(query.after)) {
        return formError({
          [query.before && !isSnowflake(query.before) ? 'before' : 'after']: fieldError(
            'NUMBER_TYPE_COERCE',
            'Value is not snowflake.',
          ),
        });
      }
      const withCounts = query.with_counts === 'true';
      let listed = Object.values(guilds)
        .filter((entry) => entry.botIsMember)
        .sort((left, right) => (BigInt(left.id) < BigInt(right.id) ? -1 : 1));
      if (query.after) listed = listed.filter((entry) => BigInt(entry.id) > BigInt(query.after as string));
      if (query.before) listed = listed.filter((entry) => BigInt(entry.id) < BigInt(query.before as string));
      return new Answer(
        200,
        listed.slice(0, limit).map((entry) => ({
          id: entry.id,
          name: entry.name,
          icon: null,
          banner: null,
          owner: false,
          permissions: '2248473465835073',
          features: [],
          ...(withCounts
            ? {
                approximate_member_count: entry.memberCount,
                approximate_presence_count: Math.ceil(entry.memberCount / 3),
              }
            : {}),
        })),
      );
    }
    if (route === 'guild-channels') {
      const found = Object.values(guilds).find((entry) => entry.id === id);
      if (!found) return new Answer(404, { message: 'Unknown Guild', code: 10004 });
      if (!found.botIsMember) return missingAccess();
      return new Answer(200, allChannels.filter((entry) => entry.guild_id === found.id).map(channelJson));
    }
    const target = allChannels.find((entry) => entry.id === id);
    if (!target) return unknownChannel();
    if (target.bot === 'none') return missingAccess();
    if (method === 'GET') {
      const limit = integer(query.limit, 1, 100, 50);
      if (typeof limit !== 'number') return formError({ limit });
      const anchors = (['around', 'before', 'after'] as const).filter((key) => query[key] !== undefined);
      if (anchors.length > 1) {
        return formError({
          [anchors[1] as string]: fieldError('BASE_TYPE_BAD', 'Only one of around, before, after may be given.'),
        });
      }
      const anchor = anchors[0];
      const value = anchor ? (query[anchor] as string) : undefined;
      if (!isSnowflake(value))
        return formError({ [anchor as string]: fieldError('NUMBER_TYPE_COERCE', 'Value is not snowflake.') });
      const all = [...(history.get(target.id) ?? [])].reverse();
      let listed = all;
      if (anchor === 'before')
        listed = all.filter((entry) => BigInt(entry.id) < BigInt(value as string)).slice(0, limit);
      else if (anchor === 'after') {
        // The `limit` messages right after the anchor, still answered newest first.
        listed = all.filter((entry) => BigInt(entry.id) > BigInt(value as string)).slice(-limit);
      } else listed = all.slice(0, limit);
      return new Answer(200, listed.map(messageJson));
    }
    // POST: Create Message.
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return new Answer(400, { message: 'The request body contains invalid JSON.', code: 50109 });
    }
    const fields = body as Record<string, unknown>;
    const errors: Record<string, unknown> = {};
    for (const key of Object.keys(fields)) {
      if (!messageFields.has(key)) errors[key] = fieldError('UNKNOWN_FIELD', 'Unknown field.');
    }
    if (fields.content !== undefined && typeof fields.content !== 'string') {
      errors.content = fieldError('BASE_TYPE_STRING', 'Must be a string.');
    } else if (typeof fields.content === 'string' && fields.content.length > 2000) {
      errors.content = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    }
    if (fields.embeds !== undefined) Object.assign(errors, checkEmbeds(fields.embeds) ?? {});
    const reference = fields.message_reference as { message_id?: unknown } | undefined;
    const replied =
      reference === undefined
        ? undefined
        : history.get(target.id)?.find((entry) => entry.id === String(reference?.message_id));
    if (reference !== undefined && !replied) {
      errors.message_reference = fieldError('MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message');
    }
    if (Object.keys(errors).length) return formError(errors);
    if (target.bot !== 'send' || target.type === 2 || target.type === 4) {
      return new Answer(403, { message: 'Missing Permissions', code: 50013 });
    }
    const content = (fields.content as string | undefined) ?? '';
    const embeds = ((fields.embeds as Record<string, unknown>[] | undefined) ?? []).map((embed) => ({
      type: 'rich',
      ...embed,
    }));
    if (!content && embeds.length === 0)
      return new Answer(400, { message: 'Cannot send an empty message', code: 50006 });
    const message = post(target.id, { id: bot.id, username: bot.username, global_name: null, bot: true }, content, {
      embeds,
      ...(replied
        ? { message_reference: { type: 0, message_id: replied.id, channel_id: target.id, guild_id: target.guild_id } }
        : {}),
    });
    return new Answer(200, messageJson(message));
  }

  async function handle(request: IncomingMessage): Promise<{ answer: Answer; bucket: string }> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const raw = await readBody(request);
    const entry: DiscordRequest = {
      method: request.method ?? 'GET',
      pathname: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: request.headers.authorization,
      userAgent: request.headers['user-agent'],
      contentType: request.headers['content-type'],
      body: undefined,
    };
    requests.push(entry);
    const refuse = (errors: string[], answer: Answer) => {
      offSpec.push({ method: entry.method, path: url.pathname + url.search, errors });
      return { answer, bucket: 'none' };
    };
    const notFound = new Answer(404, { message: '404: Not Found', code: 0 });
    const routes: [RegExp, string, string, string[]][] = [
      [/^\/api\/v10\/users\/@me\/guilds$/, 'guilds', 'GET', ['before', 'after', 'limit', 'with_counts']],
      [/^\/api\/v10\/guilds\/(\d+)\/channels$/, 'guild-channels', 'GET', []],
      [/^\/api\/v10\/channels\/(\d+)\/messages$/, 'messages', 'GET,POST', ['around', 'before', 'after', 'limit']],
    ];
    const matched = routes.find(([pattern]) => pattern.test(url.pathname));
    if (!matched) return refuse(['no such route in API v10'], notFound);
    const [pattern, route, verbs, params] = matched;
    if (!verbs.split(',').includes(entry.method)) {
      return refuse(
        [`${entry.method} is not a method of this route`],
        new Answer(405, { message: '405: Method Not Allowed', code: 0 }),
      );
    }
    const id = pattern.exec(url.pathname)?.[1];
    // Discord requires a User-Agent of the form `DiscordBot ($url, $versionNumber)`.
    if (!/^DiscordBot \([^,()]+, [^()]+\)/.test(entry.userAgent ?? '')) {
      return refuse([`User-Agent ${entry.userAgent}`], new Answer(400, { message: '400: Bad Request', code: 0 }));
    }
    const bearer = /^Bot (.+)$/.exec(entry.authorization ?? '')?.[1];
    if (bearer !== token) return { answer: new Answer(401, { message: '401: Unauthorized', code: 0 }), bucket: route };
    // Create Message takes no query parameters.
    const allowed = entry.method === 'POST' ? [] : params;
    const unknownParams = Object.keys(entry.query).filter((key) => !allowed.includes(key));
    if (unknownParams.length) {
      return refuse(
        [`query parameters ${unknownParams.join(', ')}`],
        formError(Object.fromEntries(unknownParams.map((key) => [key, fieldError('UNKNOWN_FIELD', 'Unknown field.')]))),
      );
    }
    if (entry.method === 'POST') {
      if (!(entry.contentType ?? '').startsWith('application/json')) {
        return refuse(
          [`content type ${entry.contentType}`],
          new Answer(400, { message: 'Cannot send an empty message', code: 50006 }),
        );
      }
      try {
        entry.body = JSON.parse(raw);
      } catch {
        return refuse(
          ['the body is not JSON'],
          new Answer(400, { message: 'The request body contains invalid JSON.', code: 50109 }),
        );
      }
    }
    const forced = failures.get(url.pathname);
    if (forced) {
      failures.delete(url.pathname);
      return { answer: forced, bucket: route };
    }
    const answer = serve(entry, route, id);
    // A field off the reference (not an unknown message to reply to, which is the state's business).
    const invalid = answer.body as { code?: number; errors?: Record<string, unknown> };
    if (invalid.code === 50035 && !invalid.errors?.message_reference) {
      offSpec.push({ method: entry.method, path: url.pathname, errors: [JSON.stringify(invalid.errors)] });
    }
    return { answer, bucket: route };
  }

  const server: Server = createServer((request, response) => {
    handle(request)
      .catch((error: unknown) => ({
        answer: new Answer(500, { message: `500: Internal Server Error (${(error as Error).message})`, code: 0 }),
        bucket: 'none',
      }))
      .then(({ answer, bucket }) => {
        // Discord's rate-limit headers, a bucket per route; the fake enforces no limit itself (fail() forces a 429).
        const limited = answer.status === 429;
        const resetAfter = limited ? Number((answer.body as { retry_after?: number }).retry_after ?? 5) : 5;
        response.writeHead(answer.status, {
          'content-type': 'application/json',
          'x-ratelimit-bucket': Buffer.from(bucket).toString('hex').slice(0, 32),
          'x-ratelimit-limit': '5',
          'x-ratelimit-remaining': limited ? '0' : '4',
          'x-ratelimit-reset': ((Date.now() + resetAfter * 1000) / 1000).toFixed(3),
          'x-ratelimit-reset-after': resetAfter.toFixed(3),
          ...(limited ? { 'x-ratelimit-scope': 'user' } : {}),
          ...answer.headers,
        });
        response.end(JSON.stringify(answer.body));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  return {
    url,
    token,
    bot,
    guilds,
    channels,
    requests,
    offSpec,
    messagesOf: (channelId) => [...(history.get(channelId) ?? [])],
    fail: (path, status, body, headers = {}) => {
      failures.set(path, new Answer(status, body, headers));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
