import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Slack's Web API on loopback: `<url>/api/<method>`, POST with a form-encoded or JSON body (GET
 * with a query string for the read methods), the token from `Authorization: Bearer` (or a `token` argument of a
 * form or query), answers `{ ok: true, … }` or HTTP 200 `{ ok: false, error }` as Slack does, cursor paging with
 * `response_metadata.next_cursor` (empty on the last page), x-oauth-scopes / x-accepted-oauth-scopes headers and
 * `missing_scope` with `needed` and `provided`.
 *
 * Slack publishes no machine-readable description of its methods that is installable from npm here, so the
 * arguments of the five methods the tool calls are written out below from Slack's method reference
 * (docs.slack.dev/reference/methods/<method>): their names, which are required, their types and bounds, the
 * scopes they need and their documented errors. An argument the reference does not list is refused
 * (`invalid_arg_name`) rather than ignored as Slack would, so that a client sending something off the
 * reference fails its test; every refusal of the shape is also recorded in `offSpec`.
 */
export interface SlackServer {
  url: string;
  /** A bot token with every scope the tool asks for. */
  token: string;
  /** A bot token with chat:write only. */
  limitedToken: string;
  team: { id: string; name: string };
  bot: { userId: string; botId: string };
  channels: Record<'general' | 'random' | 'design' | 'announcements' | 'secret', Channel>;
  users: Member[];
  requests: SlackRequest[];
  /** Requests refused for their shape: an unknown method or argument, a wrong type, a malformed body. */
  offSpec: { method: string; errors: string[] }[];
  /** The messages of a channel as Slack keeps them, oldest first (thread replies included). */
  messagesOf(channelId: string): Message[];
  /** The next call of `method` gets this answer instead. */
  fail(method: string, status: number, body: Record<string, unknown>, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export interface SlackRequest {
  httpMethod: string;
  /** The Web API method the path named. */
  method: string;
  contentType: string | undefined;
  authorization: string | undefined;
  /** The arguments as they arrived: strings from a form or query, JSON values from a JSON body. */
  args: Record<string, unknown>;
}

export interface Channel {
  id: string;
  name: string;
  kind: 'public_channel' | 'private_channel';
  created: number;
  is_archived: boolean;
  /** Whether the bot is a member. */
  botIsMember: boolean;
  members: string[];
  topic: string;
  purpose: string;
}
export interface Message {
  type: 'message';
  ts: string;
  user?: string;
  bot_id?: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  reply_count?: number;
  team: string;
}
export interface Member {
  id: string;
  name: string;
  real_name: string;
  deleted: boolean;
  is_bot: boolean;
  is_admin: boolean;
  tz: string;
  tz_label: string;
  tz_offset: number;
  email?: string;
  title: string;
  display_name: string;
}

type ArgType = 'string' | 'integer' | 'boolean' | 'timestamp' | 'blocks' | 'json';
interface MethodSpec {
  /** Whether the reference lists GET among the method's HTTP methods. */
  get: boolean;
  /** The scopes the reference lists for it (any one, by conversation type, for the conversations methods). */
  scopes: string;
  args: Record<string, { type: ArgType; required?: boolean; max?: number }>;
}

// From Slack's method reference. `token` is an argument of every method (a form or query may carry it).
const methods: Record<string, MethodSpec> = {
  'chat.postMessage': {
    get: false,
    scopes: 'chat:write',
    args: {
      channel: { type: 'string', required: true },
      text: { type: 'string' },
      blocks: { type: 'blocks' },
      attachments: { type: 'json' },
      thread_ts: { type: 'timestamp' },
      reply_broadcast: { type: 'boolean' },
      as_user: { type: 'boolean' },
      icon_emoji: { type: 'string' },
      icon_url: { type: 'string' },
      link_names: { type: 'boolean' },
      markdown_text: { type: 'string' },
      metadata: { type: 'json' },
      mrkdwn: { type: 'boolean' },
      parse: { type: 'string' },
      unfurl_links: { type: 'boolean' },
      unfurl_media: { type: 'boolean' },
      username: { type: 'string' },
    },
  },
  'conversations.list': {
    get: true,
    scopes: 'channels:read,groups:read,im:read,mpim:read',
    args: {
      cursor: { type: 'string' },
      exclude_archived: { type: 'boolean' },
      // "Must be an integer under 1000."
      limit: { type: 'integer', max: 999 },
      team_id: { type: 'string' },
      types: { type: 'string' },
    },
  },
  'conversations.history': {
    get: true,
    scopes: 'channels:history,groups:history,im:history,mpim:history',
    args: {
      channel: { type: 'string', required: true },
      cursor: { type: 'string' },
      include_all_metadata: { type: 'boolean' },
      inclusive: { type: 'boolean' },
      latest: { type: 'timestamp' },
      // "Maximum of 999."
      limit: { type: 'integer', max: 999 },
      oldest: { type: 'timestamp' },
    },
  },
  'users.list': {
    get: true,
    scopes: 'users:read',
    args: {
      cursor: { type: 'string' },
      include_locale: { type: 'boolean' },
      limit: { type: 'integer', max: 1000 },
      team_id: { type: 'string' },
    },
  },
  'users.info': {
    get: true,
    scopes: 'users:read',
    args: { user: { type: 'string', required: true }, include_locale: { type: 'boolean' } },
  },
};

const blockTypes = new Set([
  'actions',
  'context',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'video',
]);
const allScopes = [
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
];
const readScope: Record<string, string> = {
  public_channel: 'channels:read',
  private_channel: 'groups:read',
  mpim: 'mpim:read',
  im: 'im:read',
};

class Answer {
  constructor(
    readonly body: Record<string, unknown>,
    readonly status = 200,
    readonly headers: Record<string, string> = {},
  ) {}
}
/** Slack's refusal: HTTP 200 and `{ ok: false, error }`, with any detail beside it. */
const refusal = (error: string, extra: Record<string, unknown> = {}) => new Answer({ ok: false, error, ...extra });

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const encodeCursor = (value: string) => Buffer.from(value).toString('base64');
const decodeCursor = (cursor: string, kind: string): string | undefined => {
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  return decoded.startsWith(`${kind}:`) ? decoded.slice(kind.length + 1) : undefined;
};

export async function startSlackServer(): Promise<SlackServer> {
  const team = { id: 'T0RUNTOOLS', name: 'RunTools' };
  const bot = { userId: 'U0BOT00001', botId: 'B0BOT00001' };
  const token = 'xoxb-1111111111-2222222222-RunToolsFakeSlackBotToken';
  const limitedToken = 'xoxb-1111111111-3333333333-ChatWriteOnlyBotToken';
  const scopesOf = new Map<string, string[]>([
    [token, allScopes],
    [limitedToken, ['chat:write']],
  ]);
  const member = (id: string, name: string, realName: string, extra: Partial<Member> = {}): Member => ({
    id,
    name,
    real_name: realName,
    deleted: false,
    is_bot: false,
    is_admin: false,
    tz: 'Europe/Paris',
    tz_label: 'Central European Time',
    tz_offset: 3600,
    email: `${name}@runtools.dev`,
    title: '',
    display_name: name,
    ...extra,
  });
  const users: Member[] = [
    member('U0ANN00001', 'ann', 'Ann Lee', { is_admin: true, title: 'Engineering lead' }),
    member('U0BOB00001', 'bob', 'Bob Stone', {
      tz: 'America/New_York',
      tz_label: 'Eastern Standard Time',
      tz_offset: -18000,
    }),
    member('W0CAROL001', 'carol', 'Carol Diaz', { title: 'Designer' }),
    member('U0GONE0001', 'dave', 'Dave Former', { deleted: true }),
    member(bot.userId, 'runtools', 'RunTools', {
      is_bot: true,
      email: undefined,
      tz: 'America/Los_Angeles',
      tz_label: 'Pacific Standard Time',
      tz_offset: -28800,
    }),
  ];
  const channel = (id: string, name: string, extra: Partial<Channel> = {}): Channel => ({
    id,
    name,
    kind: 'public_channel',
    created: 1_700_000_000,
    is_archived: false,
    botIsMember: true,
    members: ['U0ANN00001', 'U0BOB00001', bot.userId],
    topic: '',
    purpose: '',
    ...extra,
  });
  const channels = {
    general: channel('C0GENERAL1', 'general', { topic: 'Company-wide news', purpose: 'Everyone', members: [] }),
    random: channel('C0RANDOM01', 'random', { botIsMember: false, members: ['U0ANN00001'] }),
    design: channel('G0DESIGN01', 'design', { kind: 'private_channel', topic: 'Mockups' }),
    announcements: channel('C0ANNOUNCE', 'old-announcements', { is_archived: true }),
    secret: channel('G0SECRET01', 'secret', { kind: 'private_channel', botIsMember: false, members: ['U0ANN00001'] }),
  };
  channels.general.members = users.filter((entry) => !entry.deleted).map((entry) => entry.id);
  const allChannels = Object.values(channels);
  const history = new Map<string, Message[]>(allChannels.map((entry) => [entry.id, []]));
  let clock = 1_730_000_000;
  const nextTs = () => {
    clock += 60;
    return `${clock}.000100`;
  };
  for (const [user, text] of [
    ['U0ANN00001', 'Welcome to #general!'],
    ['U0BOB00001', 'The deploy is done.'],
    ['U0ANN00001', 'Thanks Bob.'],
  ] as const) {
    history.get(channels.general.id)?.push({ type: 'message', ts: nextTs(), user, text, team: team.id });
  }
  history
    .get(channels.design.id)
    ?.push({ type: 'message', ts: nextTs(), user: 'W0CAROL001', text: 'New mockups are up.', team: team.id });

  const requests: SlackRequest[] = [];
  const offSpec: SlackServer['offSpec'] = [];
  const failures = new Map<string, Answer>();

  const findChannel = (value: string) =>
    allChannels.find((entry) => entry.id === value || `#${entry.name}` === value || entry.name === value);
  const channelJson = (entry: Channel) => ({
    id: entry.id,
    name: entry.name,
    is_channel: entry.kind === 'public_channel',
    is_group: entry.kind === 'private_channel',
    is_im: false,
    is_mpim: false,
    is_private: entry.kind === 'private_channel',
    created: entry.created,
    is_archived: entry.is_archived,
    is_general: entry === channels.general,
    unlinked: 0,
    name_normalized: entry.name,
    is_shared: false,
    is_org_shared: false,
    is_pending_ext_shared: false,
    pending_shared: [],
    context_team_id: team.id,
    updated: entry.created * 1000,
    parent_conversation: null,
    creator: 'U0ANN00001',
    is_ext_shared: false,
    shared_team_ids: [team.id],
    pending_connected_team_ids: [],
    is_member: entry.botIsMember,
    topic: { value: entry.topic, creator: entry.topic ? 'U0ANN00001' : '', last_set: entry.topic ? entry.created : 0 },
    purpose: {
      value: entry.purpose,
      creator: entry.purpose ? 'U0ANN00001' : '',
      last_set: entry.purpose ? entry.created : 0,
    },
    previous_names: [],
    num_members: entry.members.length,
  });
  const userJson = (entry: Member) => ({
    id: entry.id,
    team_id: team.id,
    name: entry.name,
    deleted: entry.deleted,
    color: '9f69e7',
    real_name: entry.real_name,
    tz: entry.tz,
    tz_label: entry.tz_label,
    tz_offset: entry.tz_offset,
    profile: {
      title: entry.title,
      phone: '',
      skype: '',
      real_name: entry.real_name,
      real_name_normalized: entry.real_name,
      display_name: entry.display_name,
      display_name_normalized: entry.display_name,
      status_text: '',
      status_emoji: '',
      avatar_hash: 'ge3b51ca72de',
      ...(entry.email ? { email: entry.email } : {}),
      ...(entry.is_bot ? { bot_id: bot.botId, always_active: true } : {}),
      team: team.id,
    },
    is_admin: entry.is_admin,
    is_owner: false,
    is_primary_owner: false,
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: entry.is_bot,
    is_app_user: false,
    updated: 1_700_000_000,
    is_email_confirmed: !entry.is_bot,
  });
  const messageJson = (entry: Message) => ({
    ...entry,
    ...(entry.bot_id ? { app_id: 'A0RUNTOOLS', bot_profile: { id: bot.botId, name: 'RunTools' } } : {}),
  });

  /** Checks the arguments against the method's reference entry and converts them; a refusal when they are off it. */
  function checkArgs(
    name: string,
    spec: MethodSpec,
    raw: Record<string, unknown>,
  ): { args: Record<string, unknown> } | { refusal: Answer; errors: string[] } {
    const args: Record<string, unknown> = {};
    const errors: string[] = [];
    for (const [key, value] of Object.entries(raw)) {
      if (key === 'token') continue;
      const arg = spec.args[key];
      if (!arg) {
        errors.push(`unknown argument: ${key}`);
        continue;
      }
      const text = typeof value === 'string' ? value : undefined;
      if (arg.type === 'string') {
        if (typeof value !== 'string') errors.push(`[ERROR] must provide a string [json-pointer:/${key}]`);
        else args[key] = value;
      } else if (arg.type === 'integer') {
        const number =
          typeof value === 'number' ? value : text !== undefined && /^-?\d+$/.test(text) ? Number(text) : NaN;
        if (!Number.isInteger(number)) errors.push(`[ERROR] must provide an integer [json-pointer:/${key}]`);
        else if (number < 0 || (arg.max !== undefined && number > arg.max)) {
          errors.push(`[ERROR] must be between 0 and ${arg.max ?? 'any'} [json-pointer:/${key}]`);
        } else args[key] = number;
      } else if (arg.type === 'boolean') {
        if (typeof value === 'boolean') args[key] = value;
        else if (text !== undefined && ['true', 'false', '1', '0'].includes(text))
          args[key] = text === 'true' || text === '1';
        else errors.push(`[ERROR] must provide a boolean [json-pointer:/${key}]`);
      } else if (arg.type === 'timestamp') {
        const stamp = typeof value === 'number' ? String(value) : text;
        if (stamp === undefined || !/^\d+(\.\d+)?$/.test(stamp)) {
          if (key === 'latest') return { refusal: refusal('invalid_ts_latest'), errors: [`bad latest ${stamp}`] };
          if (key === 'oldest') return { refusal: refusal('invalid_ts_oldest'), errors: [`bad oldest ${stamp}`] };
          errors.push(`[ERROR] must provide a timestamp [json-pointer:/${key}]`);
        } else args[key] = stamp;
      } else {
        // A form carries a JSON argument as a JSON-encoded string; a JSON body as the value itself.
        let parsed: unknown = value;
        if (text !== undefined) {
          try {
            parsed = JSON.parse(text);
          } catch {
            if (arg.type === 'blocks')
              return { refusal: refusal('invalid_blocks_format'), errors: ['blocks not JSON'] };
            errors.push(`[ERROR] must provide valid JSON [json-pointer:/${key}]`);
            continue;
          }
        }
        args[key] = parsed;
      }
    }
    const unknown = errors.filter((error) => error.startsWith('unknown argument'));
    if (unknown.length) return { refusal: refusal('invalid_arg_name'), errors: unknown };
    for (const [key, arg] of Object.entries(spec.args)) {
      if (arg.required && raw[key] === undefined) errors.push(`[ERROR] missing required field: ${key}`);
    }
    if (errors.length) {
      return {
        refusal: refusal('invalid_arguments', { response_metadata: { messages: errors } }),
        errors: errors.map((error) => `${name}: ${error}`),
      };
    }
    return { args };
  }

  /** A page of `items` from the cursor on: the items and the next cursor ('' on the last page). */
  function page<T>(
    items: T[],
    key: (item: T) => string,
    kind: string,
    cursor: unknown,
    limit: number,
  ): { slice: T[]; next: string } | undefined {
    let start = 0;
    if (typeof cursor === 'string' && cursor !== '') {
      const from = decodeCursor(cursor, kind);
      start = items.findIndex((item) => key(item) === from);
      if (start < 0) return undefined;
    }
    const size = limit > 0 ? limit : items.length;
    const slice = items.slice(start, start + size);
    const following = items[start + size];
    return { slice, next: following ? encodeCursor(`${kind}:${key(following)}`) : '' };
  }

  function serve(name: string, args: Record<string, unknown>, scopes: string[]): Answer {
    const missing = (needed: string) => refusal('missing_scope', { needed, provided: scopes.join(',') });
    if (name === 'chat.postMessage') {
      if (!scopes.includes('chat:write')) return missing('chat:write');
      const target = findChannel(String(args.channel));
      if (!target || (target.kind === 'private_channel' && !target.botIsMember)) return refusal('channel_not_found');
      if (target.is_archived) return refusal('is_archived');
      if (!target.botIsMember) return refusal('not_in_channel');
      const blocks = args.blocks as unknown;
      if (blocks !== undefined) {
        if (!Array.isArray(blocks)) return refusal('invalid_blocks_format');
        const problems = blocks.flatMap((block, index) => {
          const type = (block as { type?: unknown } | null)?.type;
          if (typeof type !== 'string' || !blockTypes.has(type)) {
            return [`[ERROR] unsupported type: ${String(type)} [json-pointer:/blocks/${index}/type]`];
          }
          const text = (block as { text?: { type?: unknown; text?: unknown } }).text;
          if ((type === 'section' || type === 'header') && !(block as { fields?: unknown }).fields) {
            const kinds = type === 'header' ? ['plain_text'] : ['plain_text', 'mrkdwn'];
            if (!text || !kinds.includes(String(text.type)) || typeof text.text !== 'string') {
              return [`[ERROR] must provide an object [json-pointer:/blocks/${index}/text]`];
            }
          }
          return [];
        });
        if (blocks.length > 50) problems.push('[ERROR] no more than 50 items allowed [json-pointer:/blocks]');
        if (problems.length) return refusal('invalid_blocks', { response_metadata: { messages: problems } });
      }
      const text = typeof args.text === 'string' ? args.text : '';
      if (!text && !blocks && !args.attachments) return refusal('no_text');
      if (text.length > 40_000) return refusal('msg_too_long');
      const messages = history.get(target.id) ?? [];
      const threadTs = args.thread_ts as string | undefined;
      const parent = threadTs ? messages.find((entry) => entry.ts === threadTs) : undefined;
      const posted: Message = {
        type: 'message',
        ts: nextTs(),
        user: bot.userId,
        bot_id: bot.botId,
        text,
        ...(Array.isArray(blocks) ? { blocks } : {}),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        team: team.id,
      };
      if (parent) {
        parent.thread_ts = parent.ts;
        parent.reply_count = (parent.reply_count ?? 0) + 1;
      }
      messages.push(posted);
      return new Answer({ ok: true, channel: target.id, ts: posted.ts, message: messageJson(posted) });
    }
    if (name === 'conversations.list') {
      const types = String(args.types ?? 'public_channel').split(',');
      if (types.some((type) => !(type in readScope))) {
        return refusal('invalid_types', {
          response_metadata: { messages: ['[ERROR] types must be public_channel, private_channel, mpim or im'] },
        });
      }
      const lacking = types.map((type) => readScope[type] as string).find((scope) => !scopes.includes(scope));
      if (lacking) return missing(lacking);
      const listed = allChannels
        .filter((entry) => types.includes(entry.kind))
        .filter((entry) => entry.kind === 'public_channel' || entry.botIsMember)
        .filter((entry) => !(args.exclude_archived === true && entry.is_archived));
      const paged = page(listed, (entry) => entry.id, 'team', args.cursor, (args.limit as number | undefined) ?? 100);
      if (!paged) return refusal('invalid_cursor');
      return new Answer({
        ok: true,
        channels: paged.slice.map(channelJson),
        response_metadata: { next_cursor: paged.next },
      });
    }
    if (name === 'conversations.history') {
      const target = findChannel(String(args.channel));
      if (!target || target.id !== args.channel) return refusal('channel_not_found');
      const scope = target.kind === 'public_channel' ? 'channels:history' : 'groups:history';
      if (!scopes.includes(scope)) return missing(scope);
      if (target.kind === 'private_channel' && !target.botIsMember) return refusal('channel_not_found');
      if (!target.botIsMember) return refusal('not_in_channel');
      const inclusive = args.inclusive === true;
      const oldest = args.oldest === undefined ? undefined : Number(args.oldest);
      const latest = args.latest === undefined ? undefined : Number(args.latest);
      // Newest first; thread replies stay in their thread (conversations.replies), not the channel's history.
      const listed = (history.get(target.id) ?? [])
        .filter((entry) => !entry.thread_ts || entry.thread_ts === entry.ts)
        .filter((entry) => {
          const at = Number(entry.ts);
          if (oldest !== undefined && (inclusive ? at < oldest : at <= oldest)) return false;
          if (latest !== undefined && (inclusive ? at > latest : at >= latest)) return false;
          return true;
        })
        .reverse();
      const paged = page(
        listed,
        (entry) => entry.ts,
        'next_ts',
        args.cursor,
        (args.limit as number | undefined) ?? 100,
      );
      if (!paged) return refusal('invalid_cursor');
      return new Answer({
        ok: true,
        messages: paged.slice.map(messageJson),
        has_more: paged.next !== '',
        pin_count: 0,
        channel_actions_ts: null,
        channel_actions_count: 0,
        ...(paged.next ? { response_metadata: { next_cursor: paged.next } } : {}),
      });
    }
    if (name === 'users.list') {
      if (!scopes.includes('users:read')) return missing('users:read');
      const paged = page(users, (entry) => entry.id, 'user', args.cursor, (args.limit as number | undefined) ?? 0);
      if (!paged) return refusal('invalid_cursor');
      return new Answer({
        ok: true,
        members: paged.slice.map(userJson),
        cache_ts: clock,
        response_metadata: { next_cursor: paged.next },
      });
    }
    if (name === 'users.info') {
      if (!scopes.includes('users:read')) return missing('users:read');
      const found = users.find((entry) => entry.id === args.user);
      return found ? new Answer({ ok: true, user: userJson(found) }) : refusal('user_not_found');
    }
    return new Answer({ ok: false, error: 'unknown_method', req_method: name }, 404);
  }

  async function handle(request: IncomingMessage): Promise<Answer> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const httpMethod = request.method ?? 'GET';
    const name = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname)?.[1] ?? url.pathname;
    const contentType = request.headers['content-type'];
    const entry: SlackRequest = {
      httpMethod,
      method: name,
      contentType,
      authorization: request.headers.authorization,
      args: Object.fromEntries(url.searchParams),
    };
    requests.push(entry);
    const refuse = (errors: string[], answer: Answer) => {
      offSpec.push({ method: name, errors });
      return answer;
    };
    const raw = await readBody(request);
    const spec = methods[name];
    if (!spec) {
      return refuse(
        ['not a method of the reference'],
        new Answer({ ok: false, error: 'unknown_method', req_method: name }, 404),
      );
    }
    // The reference documents no answer to a verb it does not list for a method: the fake refuses it with a 405.
    if ((httpMethod === 'GET' && !spec.get) || (httpMethod !== 'GET' && httpMethod !== 'POST')) {
      return refuse(
        [`${httpMethod} is not listed for ${name}`],
        new Answer({ ok: false, error: 'invalid_request' }, 405),
      );
    }
    if (httpMethod === 'POST' && raw) {
      const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
      if (!type) return refuse(['no content type'], refusal('missing_post_type'));
      if (type === 'application/x-www-form-urlencoded') {
        const form = new URLSearchParams(raw);
        for (const key of new Set(form.keys())) {
          if (form.getAll(key).length > 1) return refuse([`${key} given twice`], refusal('invalid_form_data'));
          entry.args[key] = form.get(key);
        }
      } else if (type === 'application/json') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          return refuse(['the body is not JSON'], refusal('invalid_json'));
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return refuse(['the JSON body is not an object'], refusal('json_not_object'));
        }
        Object.assign(entry.args, parsed);
      } else return refuse([`content type ${type}`], refusal('invalid_post_type'));
    }
    // The token: the Authorization header, or a form's or query's token argument (never a JSON body's).
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const given =
      bearer ?? (typeof entry.args.token === 'string' && !contentType?.includes('json') ? entry.args.token : undefined);
    if (!given) return refusal('not_authed');
    const scopes = scopesOf.get(given);
    if (!scopes) return refusal('invalid_auth');
    const checked = checkArgs(name, spec, entry.args);
    if ('refusal' in checked) return refuse(checked.errors, checked.refusal);
    const forced = failures.get(name);
    if (forced) {
      failures.delete(name);
      return forced;
    }
    const answer = serve(name, checked.args, scopes);
    return new Answer(answer.body, answer.status, {
      'x-oauth-scopes': scopes.join(','),
      'x-accepted-oauth-scopes': spec.scopes,
      ...answer.headers,
    });
  }

  const server: Server = createServer((request, response) => {
    handle(request)
      .catch((error: unknown) => new Answer({ ok: false, error: 'fatal_error', detail: (error as Error).message }, 500))
      .then((answer) => {
        response.writeHead(answer.status, {
          'content-type': 'application/json; charset=utf-8',
          'x-slack-req-id': `fake${requests.length}`,
          ...answer.headers,
        });
        response.end(JSON.stringify(answer.body));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    token,
    limitedToken,
    team,
    bot,
    channels,
    users,
    requests,
    offSpec,
    messagesOf: (channelId) => [...(history.get(channelId) ?? [])],
    fail: (method, status, body, headers = {}) => {
      failures.set(method, new Answer(body, status, headers));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
