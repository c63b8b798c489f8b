import { auth, type gmail_v1, gmail as gmailApi } from '@googleapis/gmail';
import { callGoogle, googleClientOptions, requestOptions } from './google.js';
import type { OfficialTool, OfficialToolContext } from './official-tool.js';

const provider = 'Gmail';

/** A client for one call: the caller's access token, the configured API root, no retries. */
function client(context: OfficialToolContext): gmail_v1.Gmail {
  const oauth = new auth.OAuth2();
  oauth.setCredentials({ access_token: context.credentials.token ?? '' });
  return gmailApi({ version: 'v1', auth: oauth, ...googleClientOptions(context) });
}

const call = <T>(context: OfficialToolContext, run: (gmail: gmail_v1.Gmail) => Promise<T>) =>
  callGoogle(provider, context, () => run(client(context)));

type Header = gmail_v1.Schema$MessagePartHeader;
/** A header's value by name (Gmail keeps the case the sender used: Message-ID, Message-Id). */
const headerValue = (headers: Header[] | undefined, name: string): string | null =>
  headers?.find((entry) => entry.name?.toLowerCase() === name.toLowerCase())?.value ?? null;

const decode = (data: string | null | undefined) => (data ? Buffer.from(data, 'base64url').toString('utf8') : '');

/** The first part of a MIME tree with this type, depth first (the order a mail reader shows them). */
function findPart(part: gmail_v1.Schema$MessagePart | undefined, mimeType: string): gmail_v1.Schema$MessagePart | null {
  if (!part) return null;
  if (part.mimeType === mimeType && !part.filename && part.body?.data) return part;
  for (const child of part.parts ?? []) {
    const found = findPart(child, mimeType);
    if (found) return found;
  }
  return null;
}

/** HTML as readable text, for mail that has no text/plain alternative. */
function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function attachments(part: gmail_v1.Schema$MessagePart | undefined): unknown[] {
  if (!part) return [];
  const own = part.filename
    ? [
        {
          filename: part.filename,
          mimeType: part.mimeType ?? null,
          size: part.body?.size ?? 0,
          attachmentId: part.body?.attachmentId ?? null,
        },
      ]
    : [];
  return [...own, ...(part.parts ?? []).flatMap(attachments)];
}

/** A body longer than this is cut: an agent's context is the limit, and the rest is rarely the point of a mail. */
const maxBodyChars = 50_000;

/** An RFC 2047 encoded word when the text is not plain ASCII (a header may carry nothing else). */
const encodeHeader = (text: string) =>
  /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;

/**
 * The RFC 2822 message Gmail's send takes: headers, then a base64 UTF-8 text body in lines of 76 characters (no
 * line may pass 998, and base64 keeps any text 7-bit). Gmail fills in From, Date and Message-ID itself, and
 * removes Bcc from what recipients get.
 */
function buildMessage(options: {
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  body: string;
  inReplyTo: string | null;
  references: string | null;
}): string {
  const lines = [
    `To: ${options.to.join(', ')}`,
    ...(options.cc.length ? [`Cc: ${options.cc.join(', ')}`] : []),
    ...(options.bcc.length ? [`Bcc: ${options.bcc.join(', ')}`] : []),
    `Subject: ${encodeHeader(options.subject)}`,
    ...(options.inReplyTo ? [`In-Reply-To: ${options.inReplyTo}`] : []),
    ...(options.references ? [`References: ${options.references}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="UTF-8"',
    'Content-Transfer-Encoding: base64',
    '',
    ...(Buffer.from(options.body, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g) ?? []),
  ];
  return lines.join('\r\n');
}

const email = {
  type: 'string',
  pattern: '^[^\\s@<>,;"]+@[^\\s@<>,;"]+$',
  maxLength: 320,
  description: 'an email address',
};
const recipients = (description: string) => ({
  type: 'array',
  items: email,
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  description,
});
const messageId = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,256}$', description: 'a Gmail message id' };
const threadId = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,256}$', description: 'a Gmail thread id' };

/** Gmail of the signed-in Google account, through the Gmail API v1. */
export const gmail: OfficialTool = {
  name: 'gmail',
  description: 'Gmail: search and read messages, send mail (new or as a reply in a thread), list labels',
  provider: 'Google',
  auth: { kind: 'oauth', provider: 'google', scopes: ['https://www.googleapis.com/auth/gmail.modify'] },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: 'a Google OAuth 2.0 access token with a Gmail scope' } },
  },
  defaultBaseUrl: 'https://gmail.googleapis.com',
  actions: {
    search_messages: {
      description:
        'Messages matching a Gmail search (the search box syntax: from:, to:, subject:, is:unread, in:sent, label:, newer_than:2d, words), newest first, with sender, subject, date and snippet',
      parameters: {
        type: 'object',
        properties: {
          q: {
            type: 'string',
            maxLength: 2048,
            description: 'a Gmail search query; all mail but spam and trash if absent',
          },
          maxResults: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          pageToken: {
            type: 'string',
            minLength: 1,
            maxLength: 512,
            description: 'nextPageToken of the previous answer',
          },
        },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (gmail) => {
          const options = requestOptions(context);
          const list = await gmail.users.messages.list(
            {
              userId: 'me',
              maxResults: params.maxResults as number,
              ...(params.q ? { q: params.q as string } : {}),
              ...(params.pageToken ? { pageToken: params.pageToken as string } : {}),
            },
            options,
          );
          // The list has ids only: each message's headers take a metadata get (Gmail has no richer list).
          const messages = await Promise.all(
            (list.data.messages ?? []).map(async (entry) => {
              const { data } = await gmail.users.messages.get(
                {
                  userId: 'me',
                  id: entry.id ?? '',
                  format: 'metadata',
                  metadataHeaders: ['From', 'To', 'Subject', 'Date'],
                },
                options,
              );
              const headers = data.payload?.headers ?? undefined;
              return {
                id: data.id ?? entry.id,
                threadId: data.threadId ?? entry.threadId,
                from: headerValue(headers, 'From'),
                to: headerValue(headers, 'To'),
                subject: headerValue(headers, 'Subject'),
                date: headerValue(headers, 'Date'),
                snippet: data.snippet ?? '',
                labelIds: data.labelIds ?? [],
              };
            }),
          );
          return {
            messages,
            nextPageToken: list.data.nextPageToken ?? null,
            resultSizeEstimate: list.data.resultSizeEstimate ?? messages.length,
          };
        }),
    },
    get_message: {
      description:
        'One message: its headers, plain-text body (HTML-only mail converted to text), labels and attachments',
      parameters: {
        type: 'object',
        properties: { id: messageId },
        required: ['id'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (gmail) => {
          const { data } = await gmail.users.messages.get(
            { userId: 'me', id: params.id as string, format: 'full' },
            requestOptions(context),
          );
          const payload = data.payload ?? undefined;
          const headers = payload?.headers ?? undefined;
          const plain = findPart(payload, 'text/plain');
          const html = plain ? null : findPart(payload, 'text/html');
          const text = plain ? decode(plain.body?.data) : html ? htmlToText(decode(html.body?.data)) : '';
          return {
            id: data.id,
            threadId: data.threadId,
            labelIds: data.labelIds ?? [],
            snippet: data.snippet ?? '',
            headers: {
              from: headerValue(headers, 'From'),
              to: headerValue(headers, 'To'),
              cc: headerValue(headers, 'Cc'),
              replyTo: headerValue(headers, 'Reply-To'),
              subject: headerValue(headers, 'Subject'),
              date: headerValue(headers, 'Date'),
              messageId: headerValue(headers, 'Message-ID'),
              inReplyTo: headerValue(headers, 'In-Reply-To'),
            },
            body: text.slice(0, maxBodyChars),
            bodyTruncated: text.length > maxBodyChars,
            bodyFormat: plain ? 'text' : html ? 'html-as-text' : 'none',
            attachments: attachments(payload),
            internalDate: data.internalDate ? new Date(Number(data.internalDate)).toISOString() : null,
          };
        }),
    },
    send_message: {
      description:
        'Send a plain-text mail from the signed-in account. With threadId it is a reply in that thread (keep the thread’s subject, e.g. "Re: …", or Gmail starts a new thread).',
      parameters: {
        type: 'object',
        properties: {
          to: recipients('recipients'),
          subject: { type: 'string', pattern: '^[^\\r\\n]*$', maxLength: 998 },
          body: { type: 'string', maxLength: 1_000_000 },
          cc: recipients('copy recipients'),
          bcc: recipients('blind copy recipients (not shown to the others)'),
          threadId,
        },
        required: ['to', 'subject', 'body'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (gmail) => {
          const options = requestOptions(context);
          const thread = params.threadId as string | undefined;
          let inReplyTo: string | null = null;
          let references: string | null = null;
          if (thread) {
            // Gmail files a reply into the thread only when it answers the thread's last message (RFC 2822's
            // In-Reply-To and References); a threadId alone is not enough.
            const { data } = await gmail.users.threads.get(
              { userId: 'me', id: thread, format: 'metadata', metadataHeaders: ['Message-ID', 'References'] },
              options,
            );
            const last = data.messages?.at(-1)?.payload?.headers ?? undefined;
            inReplyTo = headerValue(last, 'Message-ID');
            const previous = headerValue(last, 'References');
            references = inReplyTo ? [previous, inReplyTo].filter(Boolean).join(' ') : previous;
          }
          const raw = buildMessage({
            to: params.to as string[],
            cc: (params.cc as string[] | undefined) ?? [],
            bcc: (params.bcc as string[] | undefined) ?? [],
            subject: params.subject as string,
            body: params.body as string,
            inReplyTo,
            references,
          });
          const { data } = await gmail.users.messages.send(
            {
              userId: 'me',
              requestBody: {
                raw: Buffer.from(raw, 'utf8').toString('base64url'),
                ...(thread ? { threadId: thread } : {}),
              },
            },
            options,
          );
          return { id: data.id, threadId: data.threadId, labelIds: data.labelIds ?? [] };
        }),
    },
    list_labels: {
      description:
        'The labels of the mailbox, system (INBOX, SENT, UNREAD, …) and the user’s own, with their ids for search (label:)',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
      execute: (_params, context) =>
        call(context, async (gmail) => {
          const { data } = await gmail.users.labels.list({ userId: 'me' }, requestOptions(context));
          return {
            labels: (data.labels ?? []).map((label) => ({ id: label.id, name: label.name, type: label.type ?? null })),
          };
        }),
    },
  },
};
