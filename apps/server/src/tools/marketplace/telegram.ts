import { type OfficialTool, type OfficialToolContext, upstreamError } from './official-tool.js';

const provider = 'Telegram';

/** The Bot API's answer: `{ ok: true, result }`, or `{ ok: false, error_code, description, parameters }`. */
type Envelope<T> =
  | { ok: true; result: T }
  | { ok: false; error_code?: number; description?: string; parameters?: { retry_after?: number } };

/** A message's text with the bot token blanked: the token is part of every request URL. */
const redact = (text: string, token: string) => (token ? text.replaceAll(token, '<bot token>') : text);

/**
 * Calls one Bot API method (`POST <base>/bot<token>/<method>`) with a JSON or multipart body. Telegram answers
 * errors in its envelope: 401 is a wrong token; 404 means Telegram did not recognise the token's form (every
 * method this tool calls exists), so both are the credential's fault; 403 is a bot blocked or kicked; a 400
 * whose description says "not found" (chat, message to reply to) is a missing resource; 429 carries
 * `parameters.retry_after`. Nothing thrown from here carries the token: a failure of fetch itself (whose
 * message or cause might name the URL) becomes an upstream error with the token blanked.
 */
async function call<T>(
  context: OfficialToolContext,
  method: string,
  body: Record<string, unknown> | FormData,
): Promise<T> {
  const token = context.credentials.botToken ?? '';
  const url = `${context.baseUrl.replace(/\/+$/, '')}/bot${token}/${method}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      ...(body instanceof FormData
        ? { body }
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) throw new Error(`Telegram's ${method} was aborted`);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message ?? 'request failed';
    throw upstreamError(provider, undefined, redact(`${method} got no answer: ${reason}`, token));
  }
  let envelope: Envelope<T>;
  try {
    envelope = (await response.json()) as Envelope<T>;
  } catch {
    if (context.signal.aborted) throw new Error(`Telegram's ${method} was aborted`);
    throw upstreamError(provider, response.status, `${method} answered HTTP ${response.status} without a Bot API body`);
  }
  if (envelope.ok) return envelope.result;
  const status = envelope.error_code ?? response.status;
  const description = redact(envelope.description ?? `HTTP ${response.status}`, token);
  const retryAfter = envelope.parameters?.retry_after;
  if (status === 404) {
    throw upstreamError(provider, 401, `${description} (Telegram answers this to a malformed bot token)`);
  }
  if (status === 400 && /not found/i.test(description)) throw upstreamError(provider, 404, description);
  throw upstreamError(provider, status, description, typeof retryAfter === 'number' ? retryAfter : undefined);
}

type Chat = { id: number; type: string; title?: string; username?: string; first_name?: string; last_name?: string };
type User = { id: number; is_bot: boolean; first_name: string; username?: string };
type PhotoSize = { file_id: string; file_unique_id: string; width: number; height: number; file_size?: number };
type Message = {
  message_id: number;
  date: number;
  chat: Chat;
  from?: User;
  text?: string;
  caption?: string;
  photo?: PhotoSize[];
  reply_to_message?: { message_id: number };
};
type Update = { update_id: number } & Record<string, unknown>;

const chat = (item: Chat) => ({
  id: item.id,
  type: item.type,
  title: item.title ?? null,
  username: item.username ?? null,
  name: [item.first_name, item.last_name].filter(Boolean).join(' ') || null,
});
const message = (item: Message) => ({
  messageId: item.message_id,
  date: new Date(item.date * 1000).toISOString(),
  chat: chat(item.chat),
  from: item.from
    ? { id: item.from.id, isBot: item.from.is_bot, name: item.from.first_name, username: item.from.username ?? null }
    : null,
  text: item.text ?? null,
  caption: item.caption ?? null,
  // Telegram lists a photo's sizes smallest first; each has its own file_id for sending it again.
  photo: item.photo
    ? item.photo.map((size) => ({
        fileId: size.file_id,
        fileUniqueId: size.file_unique_id,
        width: size.width,
        height: size.height,
        fileSize: size.file_size ?? null,
      }))
    : null,
  replyToMessageId: item.reply_to_message?.message_id ?? null,
});
const updateKinds = [
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'callback_query',
  'inline_query',
  'chosen_inline_result',
  'my_chat_member',
  'chat_member',
  'chat_join_request',
  'message_reaction',
  'poll',
  'poll_answer',
];
const update = (item: Update) => {
  const type = Object.keys(item).find((key) => key !== 'update_id') ?? 'unknown';
  const payload = item[type] as Record<string, unknown> | undefined;
  const isMessage = payload && typeof payload.message_id === 'number' && typeof payload.chat === 'object';
  return { updateId: item.update_id, type, ...(isMessage ? { message: message(payload as Message) } : { payload }) };
};

const chatId = {
  anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^(-?\\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$' }],
  description: 'the chat: its numeric id, or @username of a public channel or group',
};
const parseMode = {
  type: 'string',
  enum: ['MarkdownV2', 'HTML', 'Markdown'],
  description: 'how Telegram formats the text',
};

/** Telegram: a bot sends messages and photos and reads its updates, through the Bot API. */
export const telegram: OfficialTool = {
  name: 'telegram',
  description: 'Telegram bot: send messages and photos to chats, read the updates (messages) the bot received',
  provider: 'Telegram',
  auth: { kind: 'api_key' },
  credentials: {
    required: ['botToken'],
    schema: { botToken: { type: 'string', description: 'the bot token from @BotFather (123456789:AA…)' } },
  },
  defaultBaseUrl: 'https://api.telegram.org',
  actions: {
    send_message: {
      description: 'Send a text message to a chat',
      parameters: {
        type: 'object',
        properties: {
          chat_id: chatId,
          text: { type: 'string', minLength: 1, maxLength: 4096 },
          parse_mode: parseMode,
          reply_to_message_id: { type: 'integer', minimum: 1, description: 'the message in the chat to reply to' },
          disable_notification: { type: 'boolean', description: 'deliver silently' },
        },
        required: ['chat_id', 'text'],
        additionalProperties: false,
      },
      execute: async (params, context) => {
        const sent = await call<Message>(context, 'sendMessage', {
          chat_id: params.chat_id,
          text: params.text,
          ...(params.parse_mode ? { parse_mode: params.parse_mode } : {}),
          // reply_parameters replaced reply_to_message_id in Bot API 7.0.
          ...(params.reply_to_message_id ? { reply_parameters: { message_id: params.reply_to_message_id } } : {}),
          ...(params.disable_notification !== undefined ? { disable_notification: params.disable_notification } : {}),
        });
        return message(sent);
      },
    },
    send_photo: {
      description:
        'Send a photo to a chat: an HTTP(S) URL Telegram downloads, the file_id of a photo Telegram already has, or the image bytes in base64 (uploaded)',
      parameters: {
        type: 'object',
        properties: {
          chat_id: chatId,
          photo: { type: 'string', minLength: 1, maxLength: 2048, description: 'an HTTP(S) URL or a file_id' },
          photoBase64: {
            type: 'string',
            minLength: 4,
            // Telegram takes uploaded photos up to 10 MB.
            maxLength: 13_981_016,
            pattern: '^[A-Za-z0-9+/]+={0,2}$',
            description: 'the image file (JPEG, PNG, WebP), base64-encoded',
          },
          filename: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/\\\\]+$', default: 'photo.jpg' },
          caption: { type: 'string', maxLength: 1024 },
          parse_mode: parseMode,
          disable_notification: { type: 'boolean' },
        },
        required: ['chat_id'],
        oneOf: [{ required: ['photo'] }, { required: ['photoBase64'] }],
        additionalProperties: false,
      },
      execute: async (params, context) => {
        const fields: Record<string, unknown> = {
          chat_id: params.chat_id,
          ...(params.caption !== undefined ? { caption: params.caption } : {}),
          ...(params.parse_mode ? { parse_mode: params.parse_mode } : {}),
          ...(params.disable_notification !== undefined ? { disable_notification: params.disable_notification } : {}),
        };
        let body: Record<string, unknown> | FormData;
        if (typeof params.photoBase64 === 'string') {
          // A new file must be uploaded as multipart/form-data; the other fields go as form fields beside it.
          const form = new FormData();
          for (const [key, value] of Object.entries(fields)) form.append(key, String(value));
          form.append('photo', new Blob([Buffer.from(params.photoBase64, 'base64')]), params.filename as string);
          body = form;
        } else {
          body = { ...fields, photo: params.photo };
        }
        return message(await call<Message>(context, 'sendPhoto', body));
      },
    },
    get_updates: {
      description:
        'The updates the bot received (messages, edits, button presses), oldest first. Pass the previous answer’s nextOffset as offset: that confirms the earlier updates, which Telegram then drops.',
      timeoutMs: 60_000,
      parameters: {
        type: 'object',
        properties: {
          offset: { type: 'integer', description: 'the first update id to return (nextOffset of the previous call)' },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 100 },
          timeout: {
            type: 'integer',
            minimum: 0,
            maximum: 50,
            default: 0,
            description: 'seconds to wait for an update when there is none (long polling)',
          },
          allowed_updates: {
            type: 'array',
            items: { type: 'string', enum: updateKinds },
            uniqueItems: true,
            maxItems: updateKinds.length,
            description: 'the kinds of update to receive; default: the ones set before (all but a few)',
          },
        },
        additionalProperties: false,
      },
      execute: async (params, context) => {
        const updates = await call<Update[]>(context, 'getUpdates', {
          ...(params.offset !== undefined ? { offset: params.offset } : {}),
          limit: params.limit ?? 100,
          timeout: params.timeout ?? 0,
          ...(params.allowed_updates ? { allowed_updates: params.allowed_updates } : {}),
        });
        const last = updates.at(-1);
        return {
          updates: updates.map(update),
          nextOffset: last ? last.update_id + 1 : ((params.offset as number | undefined) ?? null),
        };
      },
    },
  },
};
