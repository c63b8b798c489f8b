import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Telegram's Bot API on loopback: `<url>/bot<token>/<method>` with parameters in the query
 * string, a JSON body, a urlencoded form or multipart/form-data (uploaded files), answering `{ ok, result }`
 * or `{ ok: false, error_code, description, parameters }` with the matching HTTP status, as Telegram does.
 * Methods: getMe, sendMessage, sendPhoto (URL it downloads, file_id it issued, or an uploaded PNG/JPEG whose
 * size it reads), getUpdates (offset confirms, limit, long-poll timeout, allowed_updates remembered) and getFile,
 * with files served at `<url>/file/bot<token>/<file_path>`. A malformed token or an unknown method is Telegram's
 * 404 Not Found, a well-formed wrong token 401 Unauthorized; chats are known by id or @username, one has blocked
 * the bot (403). It keeps the messages it sent and the updates users sent.
 */
export interface TelegramServer {
  url: string;
  token: string;
  bot: { id: number; username: string };
  /** Chats by name: a private chat with a user, a public group, a user who blocked the bot. */
  chats: { ann: Chat; team: Chat; blocked: Chat };
  requests: TelegramRequest[];
  /** Messages the bot sent, in order. */
  sent: Message[];
  /** The updates not yet confirmed. */
  pending: Update[];
  /** A user writes to the bot: a message update (waking a long poll). */
  receive(chat: Chat, text: string): Update;
  /** The next call of `method` answers this error envelope instead. */
  fail(method: string, errorCode: number, description: string, parameters?: Record<string, unknown>): void;
  close(): Promise<void>;
}

export interface TelegramRequest {
  httpMethod: string;
  /** The Bot API method as the path named it. */
  method: string;
  /** The token the path carried. */
  token: string;
  contentType: string | undefined;
  /** The parameters as sent: JSON values, or strings from a query or form. */
  params: Record<string, unknown>;
  files: { field: string; filename: string; size: number }[];
}

export interface Chat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
  username?: string;
  first_name?: string;
}
interface User {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}
interface PhotoSize {
  file_id: string;
  file_unique_id: string;
  width: number;
  height: number;
  file_size: number;
}
export interface Message {
  message_id: number;
  from: User;
  chat: Chat;
  date: number;
  text?: string;
  caption?: string;
  photo?: PhotoSize[];
  reply_to_message?: Message;
}
export type Update = { update_id: number; message: Message };

class BotApiError {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: Record<string, unknown>,
  ) {}
}
const badRequest = (reason: string) => new BotApiError(400, `Bad Request: ${reason}`);

/** Width and height of a PNG (IHDR) or JPEG (the first SOFn marker); undefined when the bytes are neither. */
function imageSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))) {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length > 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let at = 2;
    while (at + 9 < bytes.length && bytes[at] === 0xff) {
      const marker = bytes[at + 1] ?? 0;
      const length = bytes.readUInt16BE(at + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
      }
      at += 2 + length;
    }
  }
  return undefined;
}

/** Text as Telegram stores it after parsing the markup, or its "can't parse entities" refusal. */
function parseEntities(text: string, mode: string | undefined): string {
  if (mode === undefined || mode === '') return text;
  const normalized = mode.toLowerCase();
  if (normalized === 'html') {
    const allowed = [
      'b',
      'strong',
      'i',
      'em',
      'u',
      'ins',
      's',
      'strike',
      'del',
      'a',
      'code',
      'pre',
      'tg-spoiler',
      'span',
      'blockquote',
    ];
    const open: string[] = [];
    for (const match of text.matchAll(/<(\/?)([a-z-]+)[^>]*>/gi)) {
      const tag = (match[2] ?? '').toLowerCase();
      if (!allowed.includes(tag))
        throw badRequest(`can't parse entities: Unsupported start tag "${tag}" at byte offset ${match.index}`);
      if (match[1]) {
        if (open.pop() !== tag)
          throw badRequest(`can't parse entities: Unexpected end tag at byte offset ${match.index}`);
      } else open.push(tag);
    }
    if (open.length > 0)
      throw badRequest(`can't parse entities: Can't find end tag corresponding to start tag "${open.at(-1)}"`);
    return text
      .replace(/<[^>]*>/g, '')
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&quot;', '"')
      .replaceAll('&amp;', '&');
  }
  if (normalized === 'markdownv2') {
    const reserved = /(?<!\\)[>#+\-={}.!]/.exec(text);
    if (reserved) {
      throw badRequest(
        `can't parse entities: Character '${reserved[0]}' is reserved and must be escaped with the preceding '\\'`,
      );
    }
    return text.replace(/(?<!\\)[*_~`|]/g, '').replace(/\\(.)/g, '$1');
  }
  if (normalized === 'markdown') return text.replace(/[*_`]/g, '');
  throw badRequest(`unsupported parse_mode`);
}

export async function startTelegramServer(): Promise<TelegramServer> {
  const botId = 7_412_345_678;
  const token = `${botId}:AAH${randomBytes(24).toString('base64url')}`;
  const bot: User = { id: botId, is_bot: true, first_name: 'RunTools Test Bot', username: 'runtools_test_bot' };
  const chats = {
    ann: { id: 5_550_001, type: 'private', first_name: 'Ann', username: 'ann_dev' } as Chat,
    team: { id: -1_001_234_567_890, type: 'supergroup', title: 'Team', username: 'runtools_team' } as Chat,
    blocked: { id: 5_550_002, type: 'private', first_name: 'Bob' } as Chat,
  };
  const users: Record<number, User> = {
    [chats.ann.id]: { id: chats.ann.id, is_bot: false, first_name: 'Ann', username: 'ann_dev' },
    [chats.blocked.id]: { id: chats.blocked.id, is_bot: false, first_name: 'Bob' },
  };
  const requests: TelegramRequest[] = [];
  const sent: Message[] = [];
  const messages: Message[] = [];
  const pending: Update[] = [];
  const files = new Map<string, { bytes: Buffer; path: string; uniqueId: string }>();
  const failures: { method: string; code: number; description: string; parameters?: Record<string, unknown> }[] = [];
  const waiters = new Set<() => void>();
  let allowedUpdates: string[] | undefined;
  let nextMessageId = 1;
  let nextUpdateId = 800_000_001;
  let base = '';

  const now = () => Math.floor(Date.now() / 1000);
  const findChat = (value: unknown): Chat => {
    if (value === undefined || value === null || value === '') throw badRequest('chat_id is empty');
    const raw = String(value);
    const chat = raw.startsWith('@')
      ? Object.values(chats).find((entry) => entry.username && `@${entry.username}`.toLowerCase() === raw.toLowerCase())
      : Object.values(chats).find((entry) => String(entry.id) === raw);
    if (!chat) throw badRequest('chat not found');
    if (chat.id === chats.blocked.id) throw new BotApiError(403, 'Forbidden: bot was blocked by the user');
    return chat;
  };
  const object = (value: unknown, name: string): Record<string, unknown> | undefined => {
    if (value === undefined) return undefined;
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
    try {
      return JSON.parse(String(value)) as Record<string, unknown>;
    } catch {
      throw badRequest(`can't parse ${name} JSON object`);
    }
  };
  /** The message being replied to: reply_parameters.message_id (Bot API 7.0+) or the older reply_to_message_id. */
  const replyTarget = (params: Record<string, unknown>, chat: Chat): Message | undefined => {
    const id = object(params.reply_parameters, 'reply parameters')?.message_id ?? params.reply_to_message_id;
    if (id === undefined) return undefined;
    const target = messages.find((entry) => entry.chat.id === chat.id && entry.message_id === Number(id));
    if (!target) throw badRequest('message to be replied not found');
    return target;
  };
  const store = (message: Omit<Message, 'message_id' | 'date'>): Message => {
    const full = { message_id: nextMessageId++, date: now(), ...message } as Message;
    messages.push(full);
    return full;
  };
  const issuePhoto = (bytes: Buffer): PhotoSize[] => {
    const size = imageSize(bytes);
    if (!size) throw badRequest('IMAGE_PROCESS_FAILED');
    // Telegram keeps a set of sizes, smallest first: thumbnails up to 90, 320, 800 and 1280 pixels a side.
    const longest = Math.max(size.width, size.height);
    const bounds = [90, 320, 800, 1280].filter((bound) => bound < longest);
    const scales = [...bounds.map((bound) => bound / longest), Math.min(1, 1280 / longest)];
    return scales.map((scale, index) => {
      const fileId = `AgACAgIAAxkDAA${randomBytes(30).toString('base64url')}`;
      const uniqueId = `AQAD${randomBytes(8).toString('base64url')}`;
      files.set(fileId, { bytes, path: `photos/file_${files.size}.jpg`, uniqueId });
      return {
        file_id: fileId,
        file_unique_id: uniqueId,
        width: Math.max(1, Math.round(size.width * scale)),
        height: Math.max(1, Math.round(size.height * scale)),
        file_size: index === scales.length - 1 ? bytes.length : Math.ceil(bytes.length * scale * scale),
      };
    });
  };
  const photoBytes = async (value: unknown, uploads: Map<string, Buffer>): Promise<Buffer> => {
    if (value instanceof Buffer) return value;
    if (typeof value !== 'string' || value === '') throw badRequest('there is no photo in the request');
    const attached = /^attach:\/\/(.+)$/.exec(value);
    if (attached) {
      const upload = uploads.get(attached[1] ?? '');
      if (!upload) throw badRequest('wrong HTTP URL specified');
      return upload;
    }
    if (/^https?:\/\//.test(value)) {
      const answer = await fetch(value, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      if (!answer?.ok) throw badRequest('failed to get HTTP URL content');
      return Buffer.from(await answer.arrayBuffer());
    }
    const known = files.get(value);
    if (!known) throw badRequest('wrong file identifier/HTTP URL specified');
    return known.bytes;
  };

  const receive: TelegramServer['receive'] = (chat, text) => {
    const from = users[chat.id] ?? { id: 5_550_099, is_bot: false, first_name: 'Someone' };
    const update = { update_id: nextUpdateId++, message: store({ from, chat, text }) };
    pending.push(update);
    for (const wake of waiters) wake();
    return update;
  };

  const methods: Record<string, (params: Record<string, unknown>, uploads: Map<string, Buffer>) => Promise<unknown>> = {
    getme: async () => ({
      ...bot,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
    }),
    sendmessage: async (params) => {
      const chat = findChat(params.chat_id);
      const raw = params.text === undefined ? '' : String(params.text);
      if (raw.trim() === '') throw badRequest('message text is empty');
      const text = parseEntities(raw, params.parse_mode as string | undefined);
      if (text.length > 4096) throw badRequest('message is too long');
      const reply = replyTarget(params, chat);
      const message = store({ from: bot, chat, text, ...(reply ? { reply_to_message: reply } : {}) });
      sent.push(message);
      return message;
    },
    sendphoto: async (params, uploads) => {
      const chat = findChat(params.chat_id);
      const caption =
        params.caption === undefined
          ? undefined
          : parseEntities(String(params.caption), params.parse_mode as string | undefined);
      if (caption !== undefined && caption.length > 1024) throw badRequest('message caption is too long');
      const reply = replyTarget(params, chat);
      const photo = issuePhoto(await photoBytes(uploads.get('photo') ?? params.photo, uploads));
      const message = store({
        from: bot,
        chat,
        photo,
        ...(caption ? { caption } : {}),
        ...(reply ? { reply_to_message: reply } : {}),
      });
      sent.push(message);
      return message;
    },
    getupdates: async (params) => {
      const number = (value: unknown, fallback: number) => {
        if (value === undefined || value === '') return fallback;
        const parsed = Number(value);
        if (!Number.isInteger(parsed)) throw badRequest(`invalid parameter value`);
        return parsed;
      };
      const offset = number(params.offset, 0);
      // Telegram clamps limit to 1-100 and takes timeout in seconds.
      const limit = Math.min(100, Math.max(1, number(params.limit, 100)));
      const timeout = Math.max(0, number(params.timeout, 0));
      if (params.allowed_updates !== undefined) {
        const list =
          typeof params.allowed_updates === 'string' ? JSON.parse(params.allowed_updates) : params.allowed_updates;
        if (!Array.isArray(list)) throw badRequest("can't parse allowed_updates JSON array");
        allowedUpdates = list.map(String);
      }
      // An offset confirms every update before it: they are dropped for good. A negative one takes from the end.
      if (offset > 0) {
        while (pending.length > 0 && (pending[0]?.update_id ?? 0) < offset) pending.shift();
      }
      const visible = () => {
        const kinds = allowedUpdates && allowedUpdates.length > 0 ? allowedUpdates : undefined;
        const list = pending.filter(
          (update) => !kinds || Object.keys(update).some((key) => key !== 'update_id' && kinds.includes(key)),
        );
        return offset < 0 ? list.slice(offset) : list;
      };
      if (visible().length === 0 && timeout > 0) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, timeout * 1000);
          waiters.add(wake);
        });
      }
      return visible().slice(0, limit);
    },
    getfile: async (params) => {
      const known = files.get(String(params.file_id ?? ''));
      if (!known) throw badRequest('invalid file_id');
      return {
        file_id: params.file_id,
        file_unique_id: known.uniqueId,
        file_size: known.bytes.length,
        file_path: known.path,
      };
    },
  };

  /** The parameters of a request, wherever Telegram accepts them: query string, JSON, urlencoded or multipart. */
  const readParams = async (request: IncomingMessage, url: URL, raw: Buffer) => {
    const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
    const uploads = new Map<string, Buffer>();
    const recorded: TelegramRequest['files'] = [];
    const contentType = String(request.headers['content-type'] ?? '');
    if (raw.length === 0) return { params, uploads, recorded };
    if (contentType.startsWith('application/json')) {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest("can't parse JSON object");
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest("can't parse JSON object");
      Object.assign(params, body);
    } else if (contentType.startsWith('application/x-www-form-urlencoded')) {
      Object.assign(params, Object.fromEntries(new URLSearchParams(raw.toString('utf8'))));
    } else if (contentType.startsWith('multipart/form-data')) {
      let form: FormData;
      try {
        form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
      } catch {
        throw badRequest("can't parse multipart/form-data");
      }
      for (const [field, value] of form) {
        if (typeof value === 'string') params[field] = value;
        else {
          const bytes = Buffer.from(await value.arrayBuffer());
          uploads.set(field, bytes);
          recorded.push({ field, filename: value.name, size: bytes.length });
        }
      }
    } else {
      throw badRequest(`unsupported Content-Type "${contentType}"`);
    }
    return { params, uploads, recorded };
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, raw: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json', server: 'nginx/1.18.0' });
      response.end(JSON.stringify(body));
    };
    const refuse = (error: BotApiError) =>
      send(error.code, {
        ok: false,
        error_code: error.code,
        description: error.description,
        ...(error.parameters ? { parameters: error.parameters } : {}),
      });
    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (download && request.method === 'GET') {
      const file = download[1] === token ? [...files.values()].find((entry) => entry.path === download[2]) : undefined;
      if (!file) return refuse(new BotApiError(404, 'Not Found'));
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(file.bytes.length),
      });
      return response.end(file.bytes);
    }
    const route = /^\/bot([^/]*)\/([A-Za-z]+)$/.exec(url.pathname);
    const given = route?.[1] ?? '';
    const method = route?.[2] ?? '';
    let parsed: Awaited<ReturnType<typeof readParams>> | undefined;
    try {
      parsed = await readParams(request, url, raw);
    } catch (error) {
      if (!(error instanceof BotApiError)) throw error;
      requests.push({
        httpMethod: request.method ?? '',
        method,
        token: given,
        contentType: request.headers['content-type'],
        params: {},
        files: [],
      });
      return refuse(error);
    }
    requests.push({
      httpMethod: request.method ?? '',
      method,
      token: given,
      contentType: request.headers['content-type'],
      params: parsed.params,
      files: parsed.recorded,
    });
    // Telegram does not recognise a path whose token is not of the form <bot id>:<secret>.
    if (!route || !/^\d+:[A-Za-z0-9_-]{30,}$/.test(given)) return refuse(new BotApiError(404, 'Not Found'));
    if (given !== token) return refuse(new BotApiError(401, 'Unauthorized'));
    const run = methods[method.toLowerCase()];
    if (!run || (request.method !== 'GET' && request.method !== 'POST'))
      return refuse(new BotApiError(404, 'Not Found'));
    const forced = failures.findIndex((entry) => entry.method.toLowerCase() === method.toLowerCase());
    if (forced >= 0) {
      const [failure] = failures.splice(forced, 1);
      if (failure) return refuse(new BotApiError(failure.code, failure.description, failure.parameters));
    }
    try {
      return send(200, { ok: true, result: await run(parsed.params, parsed.uploads) });
    } catch (error) {
      if (error instanceof BotApiError) return refuse(error);
      throw error;
    }
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(request, response, Buffer.concat(chunks)).catch(() => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ ok: false, error_code: 500, description: 'Internal Server Error' }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    token,
    bot: { id: botId, username: bot.username ?? '' },
    chats,
    requests,
    sent,
    pending,
    receive,
    fail(method, errorCode, description, parameters) {
      failures.push({ method, code: errorCode, description, ...(parameters ? { parameters } : {}) });
    },
    close: () =>
      new Promise((resolve) => {
        for (const wake of waiters) wake();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
