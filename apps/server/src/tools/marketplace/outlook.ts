import {
  Client,
  type Context,
  GraphError,
  type GraphRequest,
  HTTPMessageHandler,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { DomainError } from '../../errors.js';
import { type OfficialTool, type OfficialToolContext, upstreamError } from './official-tool.js';

const provider = 'Microsoft Graph';
const version = 'v1.0';

/**
 * Puts the bearer token on every request. The client's own AuthenticationHandler sends it only to https URLs of
 * Microsoft's Graph hosts, so an operator's proxy or a test's loopback service would get no token; and its
 * default chain has a RetryHandler that waits out a 429 (up to three times), which would hide the rate limit
 * from the caller. This chain is ours instead: this middleware, then the plain fetch. Every URL the tool calls
 * is built from the configured base URL (next links are checked against it), so the token goes nowhere else.
 */
class BearerToken implements Middleware {
  private next: Middleware | undefined;
  constructor(private readonly token: string) {}
  async execute(context: Context): Promise<void> {
    const options = context.options ?? {};
    options.headers = {
      ...(options.headers as Record<string, string> | undefined),
      Authorization: `Bearer ${this.token}`,
    };
    context.options = options;
    if (!this.next) throw new Error('the Graph middleware chain ends without a handler');
    await this.next.execute(context);
  }
  setNext(next: Middleware): void {
    this.next = next;
  }
}

/** The API root without a trailing slash: `https://graph.microsoft.com`. */
const root = (context: OfficialToolContext) => context.baseUrl.replace(/\/+$/, '');

function client(context: OfficialToolContext): Client {
  return Client.initWithMiddleware({
    middleware: [new BearerToken(context.credentials.token ?? ''), new HTTPMessageHandler()],
    baseUrl: `${root(context)}/`,
    defaultVersion: version,
    fetchOptions: { signal: context.signal },
  });
}

/** Runs Graph calls, mapping Graph's refusals (`{ error: { code, message } }`) to tool errors with its message. */
async function call<T>(context: OfficialToolContext, run: (graph: Client) => Promise<T>): Promise<T> {
  try {
    return await run(client(context));
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    // The client reports a request that got no answer (refused connection, reset) with status -1.
    const status = error.statusCode > 0 ? error.statusCode : undefined;
    const message = error.code && status ? `${error.message} (${error.code})` : error.message || 'request failed';
    const retryAfter = error.headers?.get('retry-after');
    const seconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
    // Graph sends Retry-After with 429 and with some 503s: either way the caller should wait that long.
    throw upstreamError(provider, status, message, seconds);
  }
}

/**
 * The path and query of a next link Graph gave, for `client.api`: only links under the configured API root
 * are followed, so a link from anywhere else (a model's invention) never gets the token.
 */
function nextPath(context: OfficialToolContext, next: string): string {
  const prefix = `${root(context)}/${version}/`;
  if (!next.startsWith(prefix)) {
    throw new DomainError('tool_params_invalid', `next must be a next link this tool returned (starting ${prefix})`, {
      errors: [{ path: '/next', message: `must start with ${prefix}` }],
    });
  }
  return next.slice(prefix.length);
}

type Address = { emailAddress?: { name?: string; address?: string } };
const address = (value: Address | undefined) =>
  value?.emailAddress ? { name: value.emailAddress.name ?? null, address: value.emailAddress.address ?? null } : null;

type Message = {
  id: string;
  subject?: string | null;
  from?: Address;
  toRecipients?: Address[];
  receivedDateTime?: string;
  isRead?: boolean;
  bodyPreview?: string;
  webLink?: string;
};
const messageFields = ['id', 'subject', 'from', 'toRecipients', 'receivedDateTime', 'isRead', 'bodyPreview', 'webLink'];
const message = (item: Message) => ({
  id: item.id,
  subject: item.subject ?? null,
  from: address(item.from),
  to: (item.toRecipients ?? []).map(address),
  receivedDateTime: item.receivedDateTime ?? null,
  isRead: item.isRead ?? null,
  bodyPreview: item.bodyPreview ?? '',
  webLink: item.webLink ?? null,
});

type DateTimeZone = { dateTime: string; timeZone: string };
type Event = {
  id: string;
  subject?: string | null;
  start?: DateTimeZone;
  end?: DateTimeZone;
  isAllDay?: boolean;
  location?: { displayName?: string };
  organizer?: Address;
  attendees?: (Address & { type?: string; status?: { response?: string } })[];
  bodyPreview?: string;
  webLink?: string;
};
const eventFields = [
  'id',
  'subject',
  'start',
  'end',
  'isAllDay',
  'location',
  'organizer',
  'attendees',
  'bodyPreview',
  'webLink',
];
const event = (item: Event) => ({
  id: item.id,
  subject: item.subject ?? null,
  start: item.start ?? null,
  end: item.end ?? null,
  isAllDay: item.isAllDay ?? false,
  location: item.location?.displayName || null,
  organizer: address(item.organizer),
  attendees: (item.attendees ?? []).map((attendee) => ({
    ...address(attendee),
    type: attendee.type ?? null,
    response: attendee.status?.response ?? null,
  })),
  bodyPreview: item.bodyPreview ?? '',
  webLink: item.webLink ?? null,
});

type Page<T> = { value: T[]; '@odata.nextLink'?: string };

const next = {
  type: 'string',
  minLength: 1,
  maxLength: 8192,
  description: 'the `next` of the previous answer, for the following page (it carries the other options)',
};
const email = { type: 'string', pattern: '^[^\\s@]+@[^\\s@]+$', maxLength: 320, description: 'an email address' };
/** A wall-clock date and time, read in `timeZone`, the form Graph's dateTimeTimeZone takes. */
const localDateTime = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,7})?)?$',
  description: 'local date and time without offset, e.g. 2026-11-03T09:30:00',
};
/** An instant with its offset, as calendarView's window takes it. */
const instant = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'ISO 8601 date and time with offset, e.g. 2026-11-01T00:00:00Z',
};
const timeZone = {
  type: 'string',
  minLength: 1,
  maxLength: 100,
  description: 'an IANA or Windows time zone name, e.g. Europe/Paris or Pacific Standard Time',
};

/** Outlook mail and calendar of the signed-in Microsoft 365 or Outlook.com account, through Microsoft Graph. */
export const outlook: OfficialTool = {
  name: 'outlook',
  description: 'Outlook (Microsoft 365): list and send mail, list and create calendar events',
  provider: 'Microsoft',
  auth: {
    kind: 'oauth',
    provider: 'microsoft',
    scopes: ['offline_access', 'User.Read', 'Mail.Read', 'Mail.Send', 'Calendars.ReadWrite'],
  },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: 'a Microsoft Graph access token (delegated, for /me)' } },
  },
  defaultBaseUrl: 'https://graph.microsoft.com',
  actions: {
    list_messages: {
      description:
        'Messages of a mail folder, newest first. search (words, or KQL such as from:ann@contoso.com) and filter (OData, such as isRead eq false) cannot be combined.',
      parameters: {
        type: 'object',
        properties: {
          folder: {
            type: 'string',
            minLength: 1,
            maxLength: 512,
            pattern: '^[A-Za-z0-9_=+-]+$',
            default: 'inbox',
            description:
              'a well-known folder name (inbox, sentitems, drafts, deleteditems, archive, junkemail) or a folder id',
          },
          top: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'messages per page' },
          search: { type: 'string', minLength: 1, maxLength: 500, description: 'search words or KQL' },
          filter: { type: 'string', minLength: 1, maxLength: 1000, description: 'an OData $filter expression' },
          next,
        },
        not: { required: ['search', 'filter'] },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (graph) => {
          let request: GraphRequest;
          if (typeof params.next === 'string') request = graph.api(nextPath(context, params.next));
          else {
            const folder = (params.folder as string | undefined) ?? 'inbox';
            request = graph
              .api(`/me/mailFolders/${encodeURIComponent(folder)}/messages`)
              .select(messageFields)
              .top((params.top as number | undefined) ?? 10);
            // Graph wants the search words in double quotes, and values URL-encoded: the client does neither.
            if (typeof params.search === 'string') {
              request = request.search(encodeURIComponent(`"${params.search.replaceAll('"', '')}"`));
            }
            if (typeof params.filter === 'string') request = request.filter(encodeURIComponent(params.filter));
          }
          const page = (await request.get()) as Page<Message>;
          return { messages: page.value.map(message), next: page['@odata.nextLink'] ?? null };
        }),
    },
    send_mail: {
      description: 'Send an email from the signed-in account (Graph accepts it for delivery; it answers no id)',
      parameters: {
        type: 'object',
        properties: {
          to: { type: 'array', items: email, minItems: 1, maxItems: 100, description: 'recipient addresses' },
          subject: { type: 'string', maxLength: 998 },
          body: { type: 'string', maxLength: 1_000_000 },
          contentType: { type: 'string', enum: ['text', 'html'], default: 'text' },
          cc: { type: 'array', items: email, maxItems: 100 },
          saveToSentItems: { type: 'boolean', default: true },
        },
        required: ['to', 'subject', 'body'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (graph) => {
          const recipients = (list: unknown) =>
            ((list as string[] | undefined) ?? []).map((value) => ({ emailAddress: { address: value } }));
          const saveToSentItems = (params.saveToSentItems as boolean | undefined) ?? true;
          await graph.api('/me/sendMail').post({
            message: {
              subject: params.subject,
              body: { contentType: params.contentType === 'html' ? 'HTML' : 'Text', content: params.body },
              toRecipients: recipients(params.to),
              ...(params.cc ? { ccRecipients: recipients(params.cc) } : {}),
            },
            saveToSentItems,
          });
          return {
            accepted: true,
            to: params.to,
            cc: (params.cc as string[] | undefined) ?? [],
            subject: params.subject,
            savedToSentItems: saveToSentItems,
          };
        }),
    },
    list_events: {
      description:
        'Calendar events: with startDateTime and endDateTime, the occurrences in that window (recurring events expanded, by start); without, the events as stored',
      parameters: {
        type: 'object',
        properties: {
          startDateTime: instant,
          endDateTime: instant,
          top: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'events per page' },
          timeZone: { ...timeZone, description: `${timeZone.description}; the times come back in it (default UTC)` },
          next,
        },
        dependentRequired: { startDateTime: ['endDateTime'], endDateTime: ['startDateTime'] },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (graph) => {
          let request: GraphRequest;
          if (typeof params.next === 'string') request = graph.api(nextPath(context, params.next));
          else if (typeof params.startDateTime === 'string') {
            request = graph
              .api('/me/calendarView')
              .query(
                `startDateTime=${encodeURIComponent(params.startDateTime)}&endDateTime=${encodeURIComponent(params.endDateTime as string)}`,
              )
              .select(eventFields)
              .orderby('start/dateTime')
              .top((params.top as number | undefined) ?? 10);
          } else {
            request = graph
              .api('/me/events')
              .select(eventFields)
              .top((params.top as number | undefined) ?? 10);
          }
          if (typeof params.timeZone === 'string')
            request = request.header('Prefer', `outlook.timezone="${params.timeZone}"`);
          const page = (await request.get()) as Page<Event>;
          return { events: page.value.map(event), next: page['@odata.nextLink'] ?? null };
        }),
    },
    create_event: {
      description: 'Create an event in the default calendar; attendees get Outlook invitations',
      parameters: {
        type: 'object',
        properties: {
          subject: { type: 'string', minLength: 1, maxLength: 255 },
          start: localDateTime,
          end: localDateTime,
          timeZone: { ...timeZone, default: 'UTC', description: `${timeZone.description}; start and end are in it` },
          attendees: { type: 'array', items: email, maxItems: 500, description: 'attendee addresses (required)' },
          body: { type: 'string', maxLength: 100_000, description: 'the description, as text' },
          location: { type: 'string', minLength: 1, maxLength: 255 },
        },
        required: ['subject', 'start', 'end'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (graph) => {
          const zone = (params.timeZone as string | undefined) ?? 'UTC';
          const created = (await graph
            .api('/me/events')
            .header('Prefer', `outlook.timezone="${zone}"`)
            .post({
              subject: params.subject,
              start: { dateTime: params.start, timeZone: zone },
              end: { dateTime: params.end, timeZone: zone },
              ...(params.body !== undefined ? { body: { contentType: 'Text', content: params.body } } : {}),
              ...(params.location !== undefined ? { location: { displayName: params.location } } : {}),
              ...(params.attendees
                ? {
                    attendees: (params.attendees as string[]).map((value) => ({
                      emailAddress: { address: value },
                      type: 'required',
                    })),
                  }
                : {}),
            })) as Event;
          return event(created);
        }),
    },
  },
};
