import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Microsoft Graph v1.0 on loopback, for the mail and calendar endpoints the outlook tool calls:
 * `GET /v1.0/me/mailFolders/{id}/messages`, `GET /v1.0/me/messages`, `POST /v1.0/me/sendMail` (202, empty),
 * `GET /v1.0/me/events`, `POST /v1.0/me/events` (201), `GET /v1.0/me/calendarView?startDateTime&endDateTime`.
 * It speaks Graph's wire format: Bearer auth (Graph's 401 InvalidAuthenticationToken otherwise), the OData
 * query options ($top, $select, $filter, $search, $orderby, $skip, $skiptoken) with `@odata.nextLink` paging,
 * the `Prefer: outlook.timezone` header, and `{ error: { code, message, innerError } }` errors for an unknown
 * segment, an unknown property in a body or $select, malformed JSON, a bad filter, $search with $filter.
 * State is kept: a sent mail shows up in SentItems, a created event in events and calendarView.
 */
export interface GraphServer {
  url: string;
  /** The one access token it accepts. */
  token: string;
  /** The signed-in user, as sent mail's sender and events' organizer. */
  me: { name: string; address: string };
  requests: GraphRequest[];
  /** Mail accepted by sendMail, as its body said. */
  sent: { message: Record<string, unknown>; saveToSentItems: boolean }[];
  /** Adds a message to a folder (inbox, sentitems, …), newest first in lists by receivedDateTime. */
  deliver(folder: string, message: Omit<StoredMessage, 'id' | 'folder'>): StoredMessage;
  /** The next request to `path` (e.g. `/v1.0/me/events`) answers this instead, whatever it is. */
  fail(path: string, status: number, body: unknown, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export interface GraphRequest {
  method: string;
  /** Path and query as they arrived. */
  path: string;
  pathname: string;
  /** Query parameters, decoded. */
  query: Record<string, string>;
  authorization: string | undefined;
  prefer: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

export interface StoredMessage {
  id: string;
  folder: string;
  subject: string;
  from: { name: string; address: string };
  to: string[];
  cc: string[];
  body: { contentType: 'text' | 'html'; content: string };
  receivedDateTime: string;
  isRead: boolean;
  hasAttachments: boolean;
}

interface StoredEvent {
  id: string;
  subject: string;
  start: number;
  end: number;
  startZone: string;
  endZone: string;
  body: { contentType: 'text' | 'html'; content: string };
  location: string;
  attendees: { address: string; name: string; type: string }[];
  isAllDay: boolean;
  createdDateTime: string;
}

const wellKnownFolders = ['inbox', 'sentitems', 'drafts', 'deleteditems', 'archive', 'junkemail'];
const messageProperties = new Set([
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'receivedDateTime',
  'sentDateTime',
  'hasAttachments',
  'subject',
  'bodyPreview',
  'importance',
  'parentFolderId',
  'conversationId',
  'isRead',
  'isDraft',
  'webLink',
  'body',
  'sender',
  'from',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
]);
const eventProperties = new Set([
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'subject',
  'bodyPreview',
  'body',
  'start',
  'end',
  'originalStartTimeZone',
  'originalEndTimeZone',
  'location',
  'locations',
  'attendees',
  'organizer',
  'isAllDay',
  'isCancelled',
  'isOnlineMeeting',
  'showAs',
  'type',
  'webLink',
  'responseStatus',
  'sensitivity',
  'importance',
]);
/** Writable properties of a new event (what POST /me/events reads); anything else is Graph's RequestBodyRead. */
const eventWritable = new Set([
  'subject',
  'body',
  'start',
  'end',
  'location',
  'locations',
  'attendees',
  'isAllDay',
  'isOnlineMeeting',
  'showAs',
  'importance',
  'sensitivity',
  'categories',
  'reminderMinutesBeforeStart',
  'isReminderOn',
  'allowNewTimeProposals',
  'transactionId',
]);
const messageWritable = new Set([
  'subject',
  'body',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'importance',
  'attachments',
  'internetMessageHeaders',
  'from',
]);
/** A few Windows zone names Graph accepts, mapped to IANA (Graph takes both). */
const windowsZones: Record<string, string> = {
  'Pacific Standard Time': 'America/Los_Angeles',
  'Eastern Standard Time': 'America/New_York',
  'W. Europe Standard Time': 'Europe/Berlin',
  'Romance Standard Time': 'Europe/Paris',
  'GMT Standard Time': 'Europe/London',
};

class GraphFailure {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
  ) {}
}

function ianaZone(name: string): string | undefined {
  const zone = windowsZones[name] ?? name;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    return undefined;
  }
}

/** The wall-clock fields of an instant in a zone. */
function wallClock(epoch: number, zone: string): number[] {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(epoch));
  const field = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  return [field('year'), field('month'), field('day'), field('hour'), field('minute'), field('second')];
}

/** An instant from a local date-time read in a zone (the offset is taken at the result, for DST). */
function fromLocal(local: string, zone: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?$/.exec(local);
  if (!match) return Number.NaN;
  const [year, month, day, hour, minute, second] = match.slice(1).map((value) => Number(value ?? 0)) as number[];
  const asUtc = Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second);
  const offsetAt = (epoch: number) => {
    const [y, mo, d, h, mi, s] = wallClock(epoch, zone) as number[];
    return Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s) - epoch;
  };
  const guess = asUtc - offsetAt(asUtc);
  return asUtc - offsetAt(guess);
}

/** Graph's dateTime form in a zone: `2026-11-03T09:00:00.0000000`. */
function toLocal(epoch: number, zone: string): string {
  const [year, month, day, hour, minute, second] = wallClock(epoch, zone).map((value) =>
    String(value).padStart(2, '0'),
  );
  return `${year}-${month}-${day}T${hour}:${minute}:${second}.0000000`;
}

/** `$filter` on messages: clauses joined by `and`, on the properties the outlook tool's callers filter by. */
function messageFilter(expression: string): (message: StoredMessage) => boolean {
  const clauses = expression.split(/\s+and\s+/i).map((clause) => {
    const match = /^\s*([A-Za-z/]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$/.exec(clause);
    if (!match) throw new GraphFailure(400, 'BadRequest', `Invalid filter clause: ${clause}`);
    const [, property, operator, literal] = match as unknown as [string, string, string, string];
    let read: (message: StoredMessage) => string | number | boolean;
    let value: string | number | boolean;
    if (property === 'isRead' || property === 'hasAttachments') {
      if (literal !== 'true' && literal !== 'false')
        throw new GraphFailure(400, 'BadRequest', `Invalid filter clause: ${clause}`);
      read = (message) => message[property];
      value = literal === 'true';
    } else if (property === 'receivedDateTime') {
      value = Date.parse(literal);
      if (Number.isNaN(value) || !/^\d{4}-\d{2}-\d{2}/.test(literal))
        throw new GraphFailure(400, 'BadRequest', `Invalid filter clause: ${clause}`);
      read = (message) => Date.parse(message.receivedDateTime);
    } else if (property === 'subject' || property === 'from/emailAddress/address') {
      const quoted = /^'((?:[^']|'')*)'$/.exec(literal);
      if (!quoted) throw new GraphFailure(400, 'BadRequest', `Invalid filter clause: ${clause}`);
      value = (quoted[1] ?? '').replaceAll("''", "'").toLowerCase();
      read = (message) => (property === 'subject' ? message.subject : message.from.address).toLowerCase();
    } else {
      throw new GraphFailure(
        400,
        'RequestBroker--ParseUri',
        `Could not find a property named '${property}' on type 'Microsoft.OutlookServices.Message'.`,
      );
    }
    return (message: StoredMessage) => {
      const actual = read(message);
      switch (operator) {
        case 'eq':
          return actual === value;
        case 'ne':
          return actual !== value;
        case 'gt':
          return actual > value;
        case 'ge':
          return actual >= value;
        case 'lt':
          return actual < value;
        default:
          return actual <= value;
      }
    };
  });
  return (message) => clauses.every((clause) => clause(message));
}

/** `$search` on messages: a double-quoted KQL string; words match from, subject and body, or `from:`/`subject:`. */
function messageSearch(raw: string): (message: StoredMessage) => boolean {
  const quoted = /^"(.*)"$/s.exec(raw);
  if (!quoted) {
    throw new GraphFailure(
      400,
      'BadRequest',
      `Syntax error: character '${raw[0] ?? ''}' is not valid at position 0 in '${raw}'.`,
    );
  }
  const terms = (quoted[1] ?? '').split(/\s+/).filter(Boolean);
  return (message) =>
    terms.every((term) => {
      const [field, text] = term.includes(':') ? (term.split(':', 2) as [string, string]) : ['', term];
      const needle = text.toLowerCase();
      const from = `${message.from.name} ${message.from.address}`.toLowerCase();
      if (field === 'from') return from.includes(needle);
      if (field === 'subject') return message.subject.toLowerCase().includes(needle);
      return [from, message.subject.toLowerCase(), message.body.content.toLowerCase()].some((value) =>
        value.includes(needle),
      );
    });
}

export async function startGraphServer(): Promise<GraphServer> {
  const token = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2lnbmF0dXJl';
  const me = { name: 'Adele Vance', address: 'adele@contoso.com' };
  const userId = '48d31887-5fad-4d73-a9f5-3c356e68a038';
  const requests: GraphRequest[] = [];
  const sent: GraphServer['sent'] = [];
  const failures: { path: string; status: number; body: unknown; headers: Record<string, string> }[] = [];
  const messages: StoredMessage[] = [];
  const events: StoredEvent[] = [];
  let counter = 0;
  const newId = (kind: string) => `AAMkAG${kind}${Buffer.from(`item-${++counter}`).toString('base64url')}AAA=`;
  let base = '';

  const deliver: GraphServer['deliver'] = (folder, message) => {
    const stored = { ...message, id: newId('Msg'), folder };
    messages.push(stored);
    return stored;
  };
  deliver('inbox', {
    subject: 'Quarterly report',
    from: { name: 'Megan Bowen', address: 'megan@contoso.com' },
    to: [me.address],
    cc: [],
    body: { contentType: 'text', content: 'The Q3 numbers are attached. Revenue is up.' },
    receivedDateTime: '2026-11-02T09:15:00Z',
    isRead: false,
    hasAttachments: true,
  });
  deliver('inbox', {
    subject: 'Lunch on Friday?',
    from: { name: 'Alex Wilber', address: 'alex@contoso.com' },
    to: [me.address],
    cc: [],
    body: { contentType: 'text', content: 'Pizza at the usual place?' },
    receivedDateTime: '2026-11-01T12:00:00Z',
    isRead: true,
    hasAttachments: false,
  });
  deliver('inbox', {
    subject: 'Welcome to Contoso',
    from: { name: 'IT Support', address: 'it@contoso.com' },
    to: [me.address],
    cc: [],
    body: { contentType: 'html', content: '<p>Your account is ready.</p>' },
    receivedDateTime: '2026-10-30T08:00:00Z',
    isRead: false,
    hasAttachments: false,
  });
  events.push({
    id: newId('Evt'),
    subject: 'Team standup',
    start: Date.parse('2026-11-03T09:00:00Z'),
    end: Date.parse('2026-11-03T09:15:00Z'),
    startZone: 'UTC',
    endZone: 'UTC',
    body: { contentType: 'text', content: 'Daily sync' },
    location: 'Room 1',
    attendees: [{ address: 'megan@contoso.com', name: 'Megan Bowen', type: 'required' }],
    isAllDay: false,
    createdDateTime: '2026-10-01T00:00:00Z',
  });

  const preview = (body: { contentType: string; content: string }) =>
    (body.contentType === 'html' ? body.content.replace(/<[^>]*>/g, '') : body.content).slice(0, 255);
  const recipient = (address: string, name?: string) => ({ emailAddress: { name: name ?? address, address } });
  const messageJson = (message: StoredMessage): Record<string, unknown> => ({
    '@odata.etag': `W/"CQAAABYAAAC${message.id.slice(6, 14)}"`,
    id: message.id,
    createdDateTime: message.receivedDateTime,
    lastModifiedDateTime: message.receivedDateTime,
    receivedDateTime: message.receivedDateTime,
    sentDateTime: message.receivedDateTime,
    hasAttachments: message.hasAttachments,
    subject: message.subject,
    bodyPreview: preview(message.body),
    importance: 'normal',
    parentFolderId: `AAMkAGFolder${message.folder}`,
    conversationId: `AAQkAGConv${message.id.slice(6, 14)}`,
    isRead: message.isRead,
    isDraft: false,
    webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(message.id)}&exvsurl=1&viewmodel=ReadMessageItem`,
    body: message.body,
    sender: recipient(message.from.address, message.from.name),
    from: recipient(message.from.address, message.from.name),
    toRecipients: message.to.map((address) => recipient(address)),
    ccRecipients: message.cc.map((address) => recipient(address)),
    bccRecipients: [],
    replyTo: [],
  });
  const eventJson = (event: StoredEvent, zone: { name: string; iana: string }): Record<string, unknown> => ({
    '@odata.etag': `W/"DwAAABYAAAC${event.id.slice(6, 14)}"`,
    id: event.id,
    createdDateTime: event.createdDateTime,
    lastModifiedDateTime: event.createdDateTime,
    subject: event.subject,
    bodyPreview: preview(event.body),
    body: event.body,
    start: { dateTime: toLocal(event.start, zone.iana), timeZone: zone.name },
    end: { dateTime: toLocal(event.end, zone.iana), timeZone: zone.name },
    originalStartTimeZone: event.startZone,
    originalEndTimeZone: event.endZone,
    location: { displayName: event.location, locationType: 'default' },
    locations: event.location ? [{ displayName: event.location, locationType: 'default' }] : [],
    attendees: event.attendees.map((attendee) => ({
      type: attendee.type,
      status: { response: 'none', time: '0001-01-01T00:00:00Z' },
      emailAddress: { name: attendee.name, address: attendee.address },
    })),
    organizer: recipient(me.address, me.name),
    isAllDay: event.isAllDay,
    isCancelled: false,
    isOnlineMeeting: false,
    showAs: 'busy',
    type: 'singleInstance',
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(event.id)}&exvsurl=1&path=/calendar/item`,
    responseStatus: { response: 'organizer', time: '0001-01-01T00:00:00Z' },
    sensitivity: 'normal',
    importance: 'normal',
  });

  /** `$select`: only those properties (Graph always adds id and the etag); an unknown one is refused. */
  const select = (raw: string | undefined, known: Set<string>, type: string) => {
    if (raw === undefined) return (item: Record<string, unknown>) => item;
    const fields = raw.split(',').map((field) => field.trim());
    for (const field of fields) {
      if (!known.has(field)) {
        throw new GraphFailure(
          400,
          'RequestBroker--ParseUri',
          `Could not find a property named '${field}' on type 'Microsoft.OutlookServices.${type}'.`,
        );
      }
    }
    return (item: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(item).filter(([key]) => key === 'id' || key === '@odata.etag' || fields.includes(key)),
      );
  };
  const integer = (raw: string | undefined, name: string, fallback: number, max: number) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value > max)
      throw new GraphFailure(400, 'BadRequest', `Invalid value '${raw}' for query option '${name}'.`);
    return value;
  };
  /** One page of `items` and the next link (the request's own query with the new offset), as Graph pages. */
  const page = (
    items: Record<string, unknown>[],
    url: URL,
    offset: number,
    top: number,
    context: string,
    cursor: '$skip' | '$skiptoken',
  ) => {
    const slice = items.slice(offset, offset + top);
    const body: Record<string, unknown> = { '@odata.context': context, value: slice };
    if (offset + top < items.length) {
      const query = new URLSearchParams(url.searchParams);
      query.delete('$skip');
      query.delete('$skiptoken');
      query.set('$top', String(top));
      query.set(
        cursor,
        cursor === '$skip' ? String(offset + top) : Buffer.from(`offset:${offset + top}`).toString('base64url'),
      );
      body['@odata.nextLink'] = `${base}${url.pathname}?${query.toString()}`;
    }
    return body;
  };
  const offsetOf = (url: URL) => {
    const token = url.searchParams.get('$skiptoken');
    if (token !== null) {
      const match = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
      if (!match) throw new GraphFailure(400, 'BadRequest', `The skip token '${token}' is not valid.`);
      return Number(match[1]);
    }
    return integer(url.searchParams.get('$skip') ?? undefined, '$skip', 0, Number.MAX_SAFE_INTEGER);
  };
  /** The zone of `Prefer: outlook.timezone="…"` (UTC without one); an unknown zone falls back to UTC, as Graph. */
  const preferredZone = (request: IncomingMessage) => {
    const name = /outlook\.timezone="([^"]+)"/.exec(String(request.headers.prefer ?? ''))?.[1];
    const iana = name ? ianaZone(name) : undefined;
    return name && iana ? { name, iana, applied: true } : { name: 'UTC', iana: 'UTC', applied: false };
  };
  const checkQueryOptions = (url: URL, allowed: string[]) => {
    for (const key of url.searchParams.keys()) {
      if (key.startsWith('$') && !allowed.includes(key))
        throw new GraphFailure(400, 'BadRequest', `The query parameter '${key}' is not supported.`);
    }
  };
  const unknownProperties = (body: Record<string, unknown>, writable: Set<string>, type: string) => {
    for (const key of Object.keys(body)) {
      if (!writable.has(key)) {
        throw new GraphFailure(
          400,
          'RequestBodyRead',
          `The property '${key}' does not exist on type 'microsoft.graph.${type}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
        );
      }
    }
  };
  const recipients = (value: unknown, field: string): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value))
      throw new GraphFailure(400, 'RequestBodyRead', `Cannot convert the literal to the expected type '${field}'.`);
    return value.map((entry) => {
      const address = (entry as { emailAddress?: { address?: unknown } })?.emailAddress?.address;
      if (typeof address !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(address))
        throw new GraphFailure(400, 'ErrorInvalidRecipients', "At least one recipient isn't valid.");
      return address;
    });
  };
  const itemBody = (value: unknown) => {
    if (value === undefined) return { contentType: 'text' as const, content: '' };
    const body = value as { contentType?: unknown; content?: unknown };
    const type = String(body?.contentType ?? 'text').toLowerCase();
    if ((type !== 'text' && type !== 'html') || typeof body.content !== 'string')
      throw new GraphFailure(
        400,
        'RequestBodyRead',
        "Cannot convert the literal to the expected type 'microsoft.graph.itemBody'.",
      );
    return { contentType: type as 'text' | 'html', content: body.content };
  };

  const listMessages = (url: URL, folder: string | undefined) => {
    checkQueryOptions(url, ['$top', '$select', '$filter', '$search', '$orderby', '$skip', '$count']);
    const search = url.searchParams.get('$search');
    const filter = url.searchParams.get('$filter');
    const orderby = url.searchParams.get('$orderby');
    if (search !== null && filter !== null)
      throw new GraphFailure(400, 'BadRequest', "The query parameter '$filter' is not supported with '$search'.");
    if (search !== null && orderby !== null)
      throw new GraphFailure(400, 'BadRequest', "The query parameter '$orderBy' is not supported with '$search'.");
    let items = messages.filter((message) => folder === undefined || message.folder === folder);
    if (filter !== null) items = items.filter(messageFilter(filter));
    if (search !== null) items = items.filter(messageSearch(search));
    const ascending = orderby !== null && /^receivedDateTime(\s+asc)?$/i.test(orderby);
    if (orderby !== null && !/^receivedDateTime(\s+(asc|desc))?$/i.test(orderby)) {
      throw new GraphFailure(
        400,
        'RequestBroker--ParseUri',
        `Could not find a property named '${orderby}' on type 'Microsoft.OutlookServices.Message'.`,
      );
    }
    items = [...items].sort(
      (a, b) => (Date.parse(b.receivedDateTime) - Date.parse(a.receivedDateTime)) * (ascending ? -1 : 1),
    );
    const pick = select(url.searchParams.get('$select') ?? undefined, messageProperties, 'Message');
    const top = integer(url.searchParams.get('$top') ?? undefined, '$top', 10, 1000);
    return page(
      items.map((message) => pick(messageJson(message))),
      url,
      offsetOf(url),
      top,
      `${base}/v1.0/$metadata#users('${userId}')/${folder ? `mailFolders('${folder}')/` : ''}messages`,
      '$skip',
    );
  };

  const listEvents = (request: IncomingMessage, url: URL, view: boolean) => {
    checkQueryOptions(url, ['$top', '$select', '$filter', '$orderby', '$skip', '$skiptoken', '$count']);
    let items = [...events];
    if (view) {
      const window = ['startDateTime', 'endDateTime'].map((name) => {
        const raw = url.searchParams.get(name);
        if (raw === null) {
          throw new GraphFailure(
            400,
            'ErrorInvalidParameter',
            'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.',
          );
        }
        const value = Date.parse(raw);
        if (Number.isNaN(value) || !/^\d{4}-\d{2}-\d{2}T/.test(raw))
          throw new GraphFailure(400, 'ErrorInvalidParameter', `The value '${raw}' of parameter '${name}' is invalid.`);
        return value;
      }) as [number, number];
      items = items.filter((event) => event.start < window[1] && event.end > window[0]);
    }
    const orderby = url.searchParams.get('$orderby');
    if (orderby !== null) {
      const match = /^start\/dateTime(\s+(asc|desc))?$/i.exec(orderby);
      if (!match)
        throw new GraphFailure(
          400,
          'RequestBroker--ParseUri',
          `Could not find a property named '${orderby}' on type 'Microsoft.OutlookServices.Event'.`,
        );
      items.sort((a, b) => (a.start - b.start) * (match[2]?.toLowerCase() === 'desc' ? -1 : 1));
    }
    const zone = preferredZone(request);
    const pick = select(url.searchParams.get('$select') ?? undefined, eventProperties, 'Event');
    const top = integer(url.searchParams.get('$top') ?? undefined, '$top', 10, 1000);
    const body = page(
      items.map((event) => pick(eventJson(event, zone))),
      url,
      offsetOf(url),
      top,
      `${base}/v1.0/$metadata#users('${userId}')/${view ? 'calendarView' : 'events'}`,
      view ? '$skiptoken' : '$skip',
    );
    return { body, zone };
  };

  const createEvent = (request: IncomingMessage, body: Record<string, unknown>) => {
    unknownProperties(body, eventWritable, 'event');
    const time = (value: unknown, name: string) => {
      const given = value as { dateTime?: unknown; timeZone?: unknown } | undefined;
      if (typeof given?.dateTime !== 'string' || typeof given.timeZone !== 'string')
        throw new GraphFailure(
          400,
          'ErrorInvalidRequest',
          `Your request can't be completed. ${name} is missing a dateTime or timeZone.`,
        );
      const zone = ianaZone(given.timeZone);
      if (!zone) {
        throw new GraphFailure(
          400,
          'TimeZoneNotSupportedException',
          `A valid TimeZone value must be specified. The following TimeZone value is not supported: '${given.timeZone}'.`,
        );
      }
      const epoch = fromLocal(given.dateTime, zone);
      if (Number.isNaN(epoch))
        throw new GraphFailure(
          400,
          'RequestBodyRead',
          `Cannot convert the literal '${given.dateTime}' to the expected type 'Edm.DateTime'.`,
        );
      return { epoch, zone: given.timeZone };
    };
    const start = time(body.start, 'Start');
    const end = time(body.end, 'End');
    if (end.epoch < start.epoch)
      throw new GraphFailure(
        400,
        'ErrorInvalidRequest',
        "Your request can't be completed. The end time must be after the start time.",
      );
    const location = body.location as { displayName?: unknown } | undefined;
    const attendees = ((body.attendees as unknown[] | undefined) ?? []).map((entry) => {
      const attendee = entry as { emailAddress?: { address?: unknown; name?: unknown }; type?: unknown };
      const [address] = recipients([attendee], 'microsoft.graph.attendee');
      const type = attendee.type ?? 'required';
      if (type !== 'required' && type !== 'optional' && type !== 'resource')
        throw new GraphFailure(
          400,
          'RequestBodyRead',
          `Cannot convert the literal '${String(type)}' to the expected type 'microsoft.graph.attendeeType'.`,
        );
      return {
        address: address as string,
        name: typeof attendee.emailAddress?.name === 'string' ? attendee.emailAddress.name : (address as string),
        type,
      };
    });
    const event: StoredEvent = {
      id: newId('Evt'),
      subject: typeof body.subject === 'string' ? body.subject : '',
      start: start.epoch,
      end: end.epoch,
      startZone: start.zone,
      endZone: end.zone,
      body: itemBody(body.body),
      location: typeof location?.displayName === 'string' ? location.displayName : '',
      attendees,
      isAllDay: body.isAllDay === true,
      createdDateTime: new Date().toISOString(),
    };
    events.push(event);
    return { event, zone: preferredZone(request) };
  };

  const sendMail = (body: Record<string, unknown>) => {
    unknownProperties(
      Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'message' && key !== 'saveToSentItems')),
      new Set(),
      'sendMail',
    );
    const message = body.message as Record<string, unknown> | undefined;
    if (!message || typeof message !== 'object')
      throw new GraphFailure(400, 'ErrorInvalidParameter', "The value of the parameter 'Message' is empty.");
    unknownProperties(message, messageWritable, 'message');
    if (body.saveToSentItems !== undefined && typeof body.saveToSentItems !== 'boolean')
      throw new GraphFailure(400, 'RequestBodyRead', "Cannot convert the literal to the expected type 'Edm.Boolean'.");
    const to = recipients(message.toRecipients, 'Collection(microsoft.graph.recipient)');
    const cc = recipients(message.ccRecipients, 'Collection(microsoft.graph.recipient)');
    if (to.length + cc.length === 0) {
      throw new GraphFailure(
        400,
        'ErrorInvalidRecipients',
        "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
      );
    }
    const content = itemBody(message.body);
    const saveToSentItems = body.saveToSentItems !== false;
    sent.push({ message, saveToSentItems });
    if (saveToSentItems) {
      deliver('sentitems', {
        subject: typeof message.subject === 'string' ? message.subject : '',
        from: me,
        to,
        cc,
        body: content,
        receivedDateTime: new Date().toISOString(),
        isRead: true,
        hasAttachments: false,
      });
    }
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, raw: string) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const requestId = randomUUID();
    const headers = {
      'request-id': requestId,
      'client-request-id': String(request.headers['client-request-id'] ?? requestId),
    };
    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      if (body === undefined) {
        response.writeHead(status, { ...headers, 'content-length': '0', ...extra });
        response.end();
        return;
      }
      response.writeHead(status, {
        'content-type':
          'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
        ...headers,
        ...extra,
      });
      response.end(JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string, extra: Record<string, string> = {}) =>
      send(
        status,
        {
          error: {
            code,
            message,
            innerError: {
              date: new Date().toISOString().slice(0, 19),
              'request-id': requestId,
              'client-request-id': headers['client-request-id'],
            },
          },
        },
        extra,
      );
    let body: unknown;
    const contentType = request.headers['content-type'];
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    requests.push({
      method: request.method ?? '',
      path: request.url ?? '/',
      pathname: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: request.headers.authorization,
      prefer: request.headers.prefer as string | undefined,
      contentType,
      body,
    });
    const failure = failures.findIndex((entry) => entry.path === url.pathname);
    if (failure >= 0) {
      const [forced] = failures.splice(failure, 1);
      if (forced) return send(forced.status, forced.body, forced.headers);
    }
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!bearer) return error(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    if (bearer !== token) {
      return error(
        401,
        'InvalidAuthenticationToken',
        bearer.split('.').length === 3
          ? 'Access token validation failure. Invalid audience.'
          : "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.",
      );
    }
    const segments = url.pathname.split('/').filter(Boolean);
    if (segments[0] !== 'v1.0') return error(404, 'NotFound', `Invalid version: ${segments[0] ?? ''}`);
    if (segments[1] !== 'me')
      return error(400, 'BadRequest', `Resource not found for the segment '${segments[1] ?? ''}'.`);
    const rest = segments.slice(2).map(decodeURIComponent);
    const method = request.method ?? 'GET';
    const notAllowed = () => error(405, 'BadRequest', 'Specified HTTP method is not allowed for the request target.');
    const json = () => {
      if (
        !String(contentType ?? '').startsWith('application/json') ||
        typeof body !== 'object' ||
        body === null ||
        Array.isArray(body)
      ) {
        throw new GraphFailure(
          400,
          'BadRequest',
          'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
        );
      }
      return body as Record<string, unknown>;
    };
    try {
      if (rest[0] === 'mailFolders' && rest[2] === 'messages' && rest.length === 3) {
        if (method !== 'GET') return notAllowed();
        const folder = rest[1] ?? '';
        const known = wellKnownFolders.find((name) => name === folder.toLowerCase());
        if (!known) return error(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
        return send(200, listMessages(url, known));
      }
      if (rest[0] === 'messages' && rest.length === 1) {
        if (method !== 'GET') return notAllowed();
        return send(200, listMessages(url, undefined));
      }
      if (rest[0] === 'sendMail' && rest.length === 1) {
        if (method !== 'POST') return notAllowed();
        sendMail(json());
        return send(202, undefined);
      }
      if (rest[0] === 'events' && rest.length === 1) {
        if (method === 'GET') {
          const { body: answer, zone } = listEvents(request, url, false);
          return send(200, answer, zone.applied ? { 'preference-applied': `outlook.timezone="${zone.name}"` } : {});
        }
        if (method !== 'POST') return notAllowed();
        const { event, zone } = createEvent(request, json());
        return send(
          201,
          { '@odata.context': `${base}/v1.0/$metadata#users('${userId}')/events/$entity`, ...eventJson(event, zone) },
          {
            location: `${base}/v1.0/users('${userId}')/events('${event.id}')`,
          },
        );
      }
      if (rest[0] === 'calendarView' && rest.length === 1) {
        if (method !== 'GET') return notAllowed();
        const { body: answer, zone } = listEvents(request, url, true);
        return send(200, answer, zone.applied ? { 'preference-applied': `outlook.timezone="${zone.name}"` } : {});
      }
      return error(400, 'BadRequest', `Resource not found for the segment '${rest[0] ?? 'me'}'.`);
    } catch (caught) {
      if (caught instanceof GraphFailure) return error(caught.status, caught.code, caught.message);
      throw caught;
    }
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(request, response, Buffer.concat(chunks).toString('utf8')).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'generalException', message: String(error) } }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    token,
    me,
    requests,
    sent,
    deliver,
    fail(path, status, body, headers = {}) {
      failures.push({ path, status, body, headers });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
