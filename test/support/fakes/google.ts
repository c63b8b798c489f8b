import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for three Google APIs on loopback, one server for all (the tools' base URLs all point at it):
 *
 * - Gmail v1: `GET /gmail/v1/users/me/messages` (q, maxResults, pageToken, labelIds, includeSpamTrash),
 *   `GET /gmail/v1/users/me/messages/{id}` (format full|metadata|minimal|raw, metadataHeaders),
 *   `POST /gmail/v1/users/me/messages/send` (`{ raw, threadId }`: the base64url RFC 2822 message is decoded,
 *   MIME and all, and kept, so a later list or get sees it), `GET /gmail/v1/users/me/threads/{id}`,
 *   `GET /gmail/v1/users/me/labels`.
 * - Calendar v3: `GET|POST /calendar/v3/calendars/{calendarId}/events`, `PATCH|DELETE
 *   /calendar/v3/calendars/{calendarId}/events/{eventId}`, `POST /calendar/v3/freeBusy`.
 * - Sheets v4: `GET|PUT /v4/spreadsheets/{id}/values/{range}`, `POST /v4/spreadsheets/{id}/values/{range}:append`
 *   (valueInputOption required, insertDataOption), `POST /v4/spreadsheets`.
 *
 * It speaks Google's wire format: `Authorization: Bearer` (Google's 401 body and WWW-Authenticate otherwise),
 * `{ error: { code, message, status, errors } }` errors (Calendar's older form without status, Sheets' newer
 * one without errors), Google front end's HTML 404 for a path no API has, 400 INVALID_ARGUMENT for a query
 * parameter or body field the method does not define, malformed JSON or a bad enum value.
 */
export interface GoogleServer {
  url: string;
  /** The one access token it accepts. */
  token: string;
  /** The signed-in account: the sender of sent mail, the owner of the primary calendar. */
  me: { email: string; name: string };
  requests: GoogleRequest[];
  gmail: {
    messages: StoredMail[];
    /** Mail accepted by messages.send, decoded. */
    sent: StoredMail[];
    /** Adds a received message from raw RFC 2822 text (CRLF or LF line ends), in INBOX unless labels say otherwise. */
    deliver(raw: string, options?: { labelIds?: string[]; threadId?: string; internalDate?: number }): StoredMail;
  };
  calendar: {
    /** Events by calendar id (the primary calendar under the account's address). */
    events(calendarId: string): StoredEvent[];
  };
  sheets: {
    spreadsheets: Map<string, StoredSpreadsheet>;
    /** The cells of a sheet as Sheets would show them (formatted), row by row, trailing empties trimmed. */
    formatted(spreadsheetId: string, sheetTitle: string): string[][];
  };
  /** The next request to `path` (as sent, e.g. `/gmail/v1/users/me/labels`) answers this instead. */
  fail(path: string, status: number, body: unknown, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export interface GoogleRequest {
  method: string;
  /** The path as it arrived, still percent-encoded. */
  pathname: string;
  /** Query parameters, decoded; a repeated one is an array. */
  query: Record<string, string | string[]>;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

export interface MimePart {
  mimeType: string;
  headers: { name: string; value: string }[];
  filename: string;
  /** The decoded content of a leaf part. */
  data: Buffer | null;
  parts: MimePart[];
}

export interface StoredMail {
  id: string;
  threadId: string;
  labelIds: string[];
  internalDate: number;
  payload: MimePart;
  /** The message as Gmail keeps it, for format=raw. */
  raw: string;
}

export interface StoredEvent {
  id: string;
  status: 'confirmed' | 'cancelled';
  summary?: string;
  description?: string;
  location?: string;
  start: { date?: string; dateTime?: string; timeZone?: string };
  end: { date?: string; dateTime?: string; timeZone?: string };
  attendees?: { email: string; responseStatus: string; optional?: boolean; displayName?: string }[];
  transparency?: string;
  created: string;
  updated: string;
  sequence: number;
}

type Cell = { kind: 'string' | 'number' | 'boolean' | 'formula'; value: string | number | boolean };
export interface StoredSheet {
  sheetId: number;
  title: string;
  index: number;
  rowCount: number;
  columnCount: number;
  rows: (Cell | null)[][];
}
export interface StoredSpreadsheet {
  spreadsheetId: string;
  title: string;
  sheets: StoredSheet[];
}

type Api = 'gmail' | 'calendar' | 'sheets';

/** A refusal in the API's own error form. */
class GoogleFailure {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

const statusNames: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  410: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** Google's error body: Gmail's has both errors[] and status, Calendar's (an older API) no status, Sheets' no errors[]. */
function errorBody(api: Api, failure: GoogleFailure): unknown {
  const entry = {
    message: failure.message,
    domain: 'global',
    reason: failure.reason,
    ...(failure.status === 401 ? { location: 'Authorization', locationType: 'header' } : {}),
  };
  const status = statusNames[failure.status] ?? 'UNKNOWN';
  if (api === 'calendar') return { error: { errors: [entry], code: failure.status, message: failure.message } };
  if (api === 'sheets') return { error: { code: failure.status, message: failure.message, status } };
  return { error: { code: failure.status, message: failure.message, errors: [entry], status } };
}

const invalid = (message: string, reason = 'invalidArgument') => new GoogleFailure(400, message, reason);
const notFound = (api: Api) =>
  new GoogleFailure(404, api === 'calendar' ? 'Not Found' : 'Requested entity was not found.', 'notFound');

/** What Google's front end answers for a URL no API serves: an HTML page, not JSON. */
const frontEnd404 = (path: string) =>
  `<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n  <p><b>404.</b> <ins>That’s an error.</ins>\n  <p>The requested URL <code>${path.replace(/[<>&]/g, '')}</code> was not found on this server.  <ins>That’s all we know.</ins>\n`;

/** Parameters every Google API method takes (system parameters), besides its own. */
const systemParameters = [
  'alt',
  'fields',
  'key',
  'oauth_token',
  'prettyPrint',
  'quotaUser',
  'userIp',
  'access_token',
  'callback',
  'upload_protocol',
  'uploadType',
  '$.xgafv',
];

function checkQuery(query: Record<string, string | string[]>, allowed: string[]): void {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name) && !systemParameters.includes(name)) {
      throw invalid(
        `Invalid JSON payload received. Unknown name "${name}": Cannot bind query parameter. Field '${name}' could not be found in request message.`,
      );
    }
  }
}

const single = (query: Record<string, string | string[]>, name: string): string | undefined => {
  const value = query[name];
  if (Array.isArray(value)) throw invalid(`Invalid value for "${name}": repeated, but it is a single value`);
  return value;
};
const list = (query: Record<string, string | string[]>, name: string): string[] => {
  const value = query[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
};

function integer(query: Record<string, string | string[]>, name: string, fallback: number, max: number): number {
  const value = single(query, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw invalid(`Invalid value at '${name}' (TYPE_UINT32), "${value}"`);
  const number = Number(value);
  if (number < 0) throw invalid(`Invalid value for ${name}: ${value}`);
  return Math.min(number, max);
}

function enumValue(query: Record<string, string | string[]>, name: string, allowed: string[], fallback: string) {
  const value = single(query, name);
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw invalid(`Invalid value at '${name}', "${value}"`);
  return value;
}

function boolean(query: Record<string, string | string[]>, name: string): boolean {
  const value = single(query, name);
  if (value === undefined) return false;
  if (value !== 'true' && value !== 'false') throw invalid(`Invalid value at '${name}' (TYPE_BOOL), "${value}"`);
  return value === 'true';
}

/** Refuses a JSON object field the resource does not define, as Google's JSON binding does. */
function checkFields(value: unknown, allowed: string[], where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`Invalid JSON payload received. Expected an object at '${where}'.`);
  }
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) {
      throw invalid(`Invalid JSON payload received. Unknown name "${name}" at '${where}': Cannot find field.`);
    }
  }
  return value as Record<string, unknown>;
}

/** Pages of a list: an opaque token stands for the offset into one query's results. */
class Pager {
  private readonly tokens = new Map<string, { key: string; offset: number }>();
  page<T>(items: T[], key: string, size: number, token: string | undefined): { items: T[]; next?: string } {
    let offset = 0;
    if (token !== undefined) {
      const entry = this.tokens.get(token);
      if (!entry || entry.key !== key) throw invalid('Invalid page token value.', 'invalid');
      offset = entry.offset;
    }
    const page = items.slice(offset, offset + size);
    if (offset + size >= items.length) return { items: page };
    const next = randomBytes(12).toString('base64url');
    this.tokens.set(next, { key, offset: offset + size });
    return { items: page, next };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// MIME, as Gmail reads a raw message.

function decodeWords(value: string): string {
  return value.replace(
    /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g,
    (_match, _charset: string, encoding: string, text: string) =>
      encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-Fa-f]{2})/g, (_hex, code: string) => String.fromCharCode(parseInt(code, 16))),
            'latin1',
          ).toString('utf8'),
  );
}

function parseHeaders(text: string): { name: string; value: string }[] {
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  const headers: { name: string; value: string }[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw invalid('Invalid RFC 2822 message: a header line without a name', 'invalidArgument');
    headers.push({ name: line.slice(0, colon).trim(), value: decodeWords(line.slice(colon + 1).trim()) });
  }
  return headers;
}

const headerOf = (headers: { name: string; value: string }[], name: string) =>
  headers.find((header) => header.name.toLowerCase() === name.toLowerCase())?.value;

function contentType(value: string | undefined): { type: string; params: Record<string, string> } {
  const [type = 'text/plain', ...rest] = (value ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const item of rest) {
    const equals = item.indexOf('=');
    if (equals < 0) continue;
    params[item.slice(0, equals).trim().toLowerCase()] = item
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return { type: type.trim().toLowerCase(), params };
}

function parsePart(text: string): MimePart {
  const split = /\r?\n\r?\n/.exec(text);
  const head = split ? text.slice(0, split.index) : text;
  const body = split ? text.slice(split.index + split[0].length) : '';
  const headers = parseHeaders(head);
  const type = contentType(headerOf(headers, 'Content-Type'));
  const disposition = contentType(headerOf(headers, 'Content-Disposition'));
  const filename = disposition.params.filename ?? type.params.name ?? '';
  if (type.type.startsWith('multipart/')) {
    const boundary = type.params.boundary;
    if (!boundary) throw invalid('Invalid RFC 2822 message: a multipart part without a boundary');
    const sections = body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const parts = sections
      .slice(1)
      .filter((section) => !section.startsWith('--'))
      .map((section) => parsePart(section.replace(/^\r?\n/, '')));
    return { mimeType: type.type, headers, filename, data: null, parts };
  }
  const encoding = (headerOf(headers, 'Content-Transfer-Encoding') ?? '7bit').toLowerCase();
  let data: Buffer;
  if (encoding === 'base64') data = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  else if (encoding === 'quoted-printable') {
    data = Buffer.from(
      body
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_hex, code: string) => String.fromCharCode(parseInt(code, 16))),
      'latin1',
    );
  } else data = Buffer.from(body.replace(/\r?\n$/, ''), 'utf8');
  return { mimeType: type.type, headers, filename, data, parts: [] };
}

function textOf(part: MimePart, type: string): string | null {
  if (part.mimeType === type && !part.filename && part.data) return part.data.toString('utf8');
  for (const child of part.parts) {
    const found = textOf(child, type);
    if (found !== null) return found;
  }
  return null;
}

function snippetOf(part: MimePart): string {
  const text =
    textOf(part, 'text/plain') ?? (textOf(part, 'text/html') ?? '').replace(/<[^>]+>/g, ' ').replace(/&nbsp;/g, ' ');
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** A part as Gmail's MessagePart: partId, mimeType, filename, headers, body { size, data | attachmentId }, parts. */
function partResource(part: MimePart, partId: string, mail: StoredMail): Record<string, unknown> {
  let body: Record<string, unknown> = { size: 0 };
  if (part.data && part.filename) {
    body = { attachmentId: `ANGjdJ${mail.id}${partId.replace(/\./g, '')}`, size: part.data.length };
  } else if (part.data) {
    body = { size: part.data.length, data: part.data.toString('base64url') };
  }
  return {
    partId,
    mimeType: part.mimeType,
    filename: part.filename,
    headers: part.headers,
    body,
    ...(part.parts.length
      ? {
          parts: part.parts.map((child, index) =>
            partResource(child, partId ? `${partId}.${index}` : `${index}`, mail),
          ),
        }
      : {}),
  };
}

const gmailLabels = [
  ...['INBOX', 'SENT', 'UNREAD', 'STARRED', 'IMPORTANT', 'TRASH', 'DRAFT', 'SPAM'].map((id) => ({
    id,
    name: id,
    type: 'system',
  })),
  ...['CATEGORY_PERSONAL', 'CATEGORY_UPDATES'].map((id) => ({ id, name: id, type: 'system' })),
  { id: 'Label_1', name: 'Receipts', type: 'user' },
  { id: 'Label_2', name: 'Work', type: 'user' },
];

/** Gmail's search box, as far as the tests use it: words, from:, to:, cc:, subject:, label:, in:, is:, has:. */
function matchesSearch(mail: StoredMail, q: string): boolean {
  const headers = mail.payload.headers;
  const field = (name: string) => (headerOf(headers, name) ?? '').toLowerCase();
  const text = `${field('subject')} ${field('from')} ${field('to')} ${field('cc')} ${snippetOf(mail.payload).toLowerCase()} ${(textOf(mail.payload, 'text/plain') ?? '').toLowerCase()}`;
  const labelMatches = (name: string) =>
    mail.labelIds.some((id) => {
      const label = gmailLabels.find((entry) => entry.id === id);
      return id.toLowerCase() === name || label?.name.toLowerCase().replace(/\s+/g, '-') === name;
    });
  const terms = q.match(/(?:[^\s"]+:)?"[^"]*"|\S+/g) ?? [];
  return terms.every((term) => {
    const [, operator, rawValue] = /^(?:([a-z]+):)?(.*)$/i.exec(term) ?? [];
    const value = (rawValue ?? '').replace(/^"|"$/g, '').toLowerCase();
    switch (operator?.toLowerCase()) {
      case 'from':
      case 'to':
      case 'cc':
      case 'subject':
        return field(operator.toLowerCase()).includes(value);
      case 'label':
        return labelMatches(value);
      case 'in':
        return value === 'anywhere' || labelMatches(value);
      case 'is':
        if (value === 'unread') return mail.labelIds.includes('UNREAD');
        if (value === 'read') return !mail.labelIds.includes('UNREAD');
        return labelMatches(value);
      case 'has':
        return value === 'attachment' ? hasAttachment(mail.payload) : false;
      default:
        return text.includes((operator ? `${operator}:${value}` : value).toLowerCase());
    }
  });
}

const hasAttachment = (part: MimePart): boolean => Boolean(part.filename) || part.parts.some(hasAttachment);
const normalizedSubject = (subject: string | undefined) =>
  (subject ?? '')
    .replace(/^((re|fwd?|aw)\s*:\s*)+/i, '')
    .trim()
    .toLowerCase();

// ---------------------------------------------------------------------------------------------------------------
// Time, as Calendar reads and writes it.

function wallClock(epoch: number, zone: string): { parts: number[]; offsetMinutes: number } {
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
  const values = [field('year'), field('month'), field('day'), field('hour'), field('minute'), field('second')];
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0] = values;
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  return { parts: values, offsetMinutes: Math.round((asUtc - Math.floor(epoch / 1000) * 1000) / 60000) };
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** An instant as Calendar writes it in a zone: 2026-11-03T10:00:00+01:00, or Z where the offset is zero. */
function formatInZone(epoch: number, zone: string): string {
  const { parts, offsetMinutes } = wallClock(epoch, zone);
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0] = parts;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const magnitude = Math.abs(offsetMinutes);
  const offset = offsetMinutes === 0 ? 'Z' : `${sign}${pad(Math.floor(magnitude / 60))}:${pad(magnitude % 60)}`;
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${offset}`;
}

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/i;

/** An instant from an RFC 3339 time, or from a local time read in a zone (the offset taken at the result, for DST). */
function parseTime(value: string, zone: string | undefined): number | null {
  const match = rfc3339.exec(value);
  if (!match) return null;
  if (match[7]) return Date.parse(value);
  if (!zone) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0)) as number[];
  const asUtc = Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second);
  const first = asUtc - wallClock(asUtc, zone).offsetMinutes * 60000;
  return asUtc - wallClock(first, zone).offsetMinutes * 60000;
}

/** The instant a date starts at in a zone (all-day events span whole days of the calendar's zone). */
const dayStart = (date: string, zone: string) => parseTime(`${date}T00:00:00`, zone) ?? Number.NaN;

// ---------------------------------------------------------------------------------------------------------------
// Sheets' A1 notation and cell values.

const columnName = (index: number): string => {
  let name = '';
  for (let value = index + 1; value > 0; value = Math.floor((value - 1) / 26)) {
    name = String.fromCharCode(65 + ((value - 1) % 26)) + name;
  }
  return name;
};
const columnIndex = (name: string) =>
  [...name.toUpperCase()].reduce((sum, char) => sum * 26 + char.charCodeAt(0) - 64, 0) - 1;
const sheetName = (title: string) => (/^[A-Za-z0-9_]+$/.test(title) ? title : `'${title.replace(/'/g, "''")}'`);

interface GridRange {
  sheet: StoredSheet;
  startRow: number;
  startColumn: number;
  endRow: number;
  endColumn: number;
  /** A single cell (A1) anchors a write without bounding it. */
  anchorOnly: boolean;
}

function parseRange(spreadsheet: StoredSpreadsheet, text: string): GridRange {
  const failure = invalid(`Unable to parse range: ${text}`);
  let sheetPart: string | undefined;
  let cells: string | undefined;
  const quoted = /^'((?:[^']|'')+)'(?:!(.*))?$/.exec(text);
  if (quoted) {
    sheetPart = quoted[1]?.replace(/''/g, "'");
    cells = quoted[2];
  } else if (text.includes('!')) {
    sheetPart = text.slice(0, text.lastIndexOf('!'));
    cells = text.slice(text.lastIndexOf('!') + 1);
  } else if (spreadsheet.sheets.some((sheet) => sheet.title === text)) {
    sheetPart = text;
  } else {
    cells = text;
  }
  const sheet =
    sheetPart === undefined ? spreadsheet.sheets[0] : spreadsheet.sheets.find((entry) => entry.title === sheetPart);
  if (!sheet) throw failure;
  if (cells === undefined || cells === '') {
    return {
      sheet,
      startRow: 0,
      startColumn: 0,
      endRow: sheet.rowCount - 1,
      endColumn: sheet.columnCount - 1,
      anchorOnly: false,
    };
  }
  const match = /^([A-Za-z]{0,3})(\d*)(?::([A-Za-z]{0,3})(\d*))?$/.exec(cells);
  if (!match) throw failure;
  const [, startColumn = '', startRow = '', endColumn, endRow] = match;
  if (!startColumn && !startRow) throw failure;
  if (match[3] === undefined && match[4] === undefined) {
    if (!startColumn || !startRow) throw failure;
    const column = columnIndex(startColumn);
    const row = Number(startRow) - 1;
    return { sheet, startRow: row, startColumn: column, endRow: row, endColumn: column, anchorOnly: true };
  }
  if (!endColumn && !endRow) throw failure;
  return {
    sheet,
    startRow: startRow ? Number(startRow) - 1 : 0,
    startColumn: startColumn ? columnIndex(startColumn) : 0,
    endRow: endRow ? Number(endRow) - 1 : sheet.rowCount - 1,
    endColumn: endColumn ? columnIndex(endColumn) : sheet.columnCount - 1,
    anchorOnly: false,
  };
}

const a1 = (sheet: StoredSheet, startRow: number, startColumn: number, endRow: number, endColumn: number) => {
  const start = `${columnName(startColumn)}${startRow + 1}`;
  const end = `${columnName(endColumn)}${endRow + 1}`;
  return `${sheetName(sheet.title)}!${start === end ? start : `${start}:${end}`}`;
};

/** A value as the user typed it (USER_ENTERED) or as given (RAW). */
function inputCell(value: unknown, mode: string): Cell | null | 'clear' {
  if (value === null) return null;
  if (typeof value === 'number') return { kind: 'number', value };
  if (typeof value === 'boolean') return { kind: 'boolean', value };
  if (typeof value !== 'string') throw invalid(`Invalid values: ${JSON.stringify(value)} is not a cell value`);
  if (value === '') return 'clear';
  if (mode === 'RAW') return { kind: 'string', value };
  if (value.startsWith("'")) return { kind: 'string', value: value.slice(1) };
  if (value.startsWith('=')) return { kind: 'formula', value };
  if (/^-?\d+(\.\d+)?$/.test(value.trim())) return { kind: 'number', value: Number(value) };
  if (/^(true|false)$/i.test(value.trim())) return { kind: 'boolean', value: value.trim().toUpperCase() === 'TRUE' };
  return { kind: 'string', value };
}

/** A formula's value: SUM over a range of this sheet, the one function the fake knows; else Sheets' #NAME?. */
function evaluate(sheet: StoredSheet, formula: string): number | string {
  const sum = /^=SUM\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)$/i.exec(formula.replace(/\s+/g, ''));
  if (!sum) return '#NAME?';
  let total = 0;
  for (let row = Number(sum[2]) - 1; row <= Number(sum[4]) - 1; row++) {
    for (let column = columnIndex(sum[1] ?? 'A'); column <= columnIndex(sum[3] ?? 'A'); column++) {
      const cell = sheet.rows[row]?.[column];
      if (cell?.kind === 'number') total += cell.value as number;
    }
  }
  return total;
}

function renderCell(sheet: StoredSheet, cell: Cell | null | undefined, option: string): unknown {
  if (!cell) return '';
  if (cell.kind === 'formula') {
    if (option === 'FORMULA') return cell.value;
    const value = evaluate(sheet, cell.value as string);
    return option === 'FORMATTED_VALUE' ? String(value) : value;
  }
  if (option !== 'FORMATTED_VALUE') return cell.value;
  if (cell.kind === 'boolean') return cell.value ? 'TRUE' : 'FALSE';
  return String(cell.value);
}

/** Rows of a range as Sheets answers them: trailing empty cells of a row and trailing empty rows are left out. */
function readRange(range: GridRange, option: string): unknown[][] {
  const rows: unknown[][] = [];
  const last = Math.min(range.endRow, range.sheet.rowCount - 1);
  for (let row = range.startRow; row <= last; row++) {
    const values: unknown[] = [];
    for (let column = range.startColumn; column <= Math.min(range.endColumn, range.sheet.columnCount - 1); column++) {
      values.push(renderCell(range.sheet, range.sheet.rows[row]?.[column], option));
    }
    while (values.length && values.at(-1) === '') values.pop();
    rows.push(values);
  }
  while (rows.length && rows.at(-1)?.length === 0) rows.pop();
  return rows;
}

const rowIsEmpty = (sheet: StoredSheet, row: number, from: number, to: number) => {
  for (let column = from; column <= to; column++) if (sheet.rows[row]?.[column]) return false;
  return true;
};

// ---------------------------------------------------------------------------------------------------------------

export async function startGoogleServer(): Promise<GoogleServer> {
  const token = `ya29.a0${randomBytes(24).toString('base64url')}`;
  const me = { email: 'ada@example.com', name: 'Ada Lovelace' };
  const requests: GoogleRequest[] = [];
  const failures = new Map<string, { status: number; body: unknown; headers: Record<string, string> }>();
  const pager = new Pager();

  // Gmail ------------------------------------------------------------------------------------------------------
  const messages: StoredMail[] = [];
  const sent: StoredMail[] = [];
  const hexId = () => randomBytes(8).toString('hex');
  const deliver = (
    raw: string,
    options: { labelIds?: string[]; threadId?: string; internalDate?: number } = {},
  ): StoredMail => {
    const payload = parsePart(raw);
    const date = headerOf(payload.headers, 'Date');
    const mail: StoredMail = {
      id: hexId(),
      threadId: options.threadId ?? '',
      labelIds: options.labelIds ?? ['INBOX', 'UNREAD'],
      internalDate: options.internalDate ?? (date ? Date.parse(date) : Date.now()),
      payload,
      raw,
    };
    mail.threadId ||= mail.id;
    messages.push(mail);
    return mail;
  };
  const messageResource = (mail: StoredMail, format: string, metadataHeaders: string[]) => {
    const base = {
      id: mail.id,
      threadId: mail.threadId,
      labelIds: mail.labelIds,
      snippet: snippetOf(mail.payload),
      sizeEstimate: mail.raw.length,
      historyId: String(100000 + messages.indexOf(mail)),
      internalDate: String(mail.internalDate),
    };
    if (format === 'minimal') return base;
    if (format === 'raw') return { ...base, raw: Buffer.from(mail.raw, 'utf8').toString('base64url') };
    if (format === 'metadata') {
      const wanted = metadataHeaders.map((name) => name.toLowerCase());
      const headers = wanted.length
        ? mail.payload.headers.filter((header) => wanted.includes(header.name.toLowerCase()))
        : mail.payload.headers;
      return { ...base, payload: { partId: '', mimeType: mail.payload.mimeType, filename: '', headers } };
    }
    return { ...base, payload: partResource(mail.payload, '', mail) };
  };
  const visible = (mail: StoredMail, includeSpamTrash: boolean) =>
    includeSpamTrash || !mail.labelIds.some((id) => id === 'SPAM' || id === 'TRASH');
  const byNewest = (left: StoredMail, right: StoredMail) => right.internalDate - left.internalDate;

  deliver(
    [
      'From: Megan Bowen <megan@example.com>',
      `To: ${me.name} <${me.email}>`,
      'Subject: Quarterly report',
      'Date: Mon, 2 Nov 2026 09:15:00 +0000',
      'Message-ID: <report-1@mail.example.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset="UTF-8"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'The Q3 numbers are attached. Revenue is up 12 =E2=82=AC per user.',
      '--b1',
      'Content-Type: text/html; charset="UTF-8"',
      '',
      '<p>The Q3 numbers are attached. Revenue is up 12 &euro; per user.</p>',
      '--b1--',
      '',
    ].join('\r\n'),
    { labelIds: ['INBOX', 'UNREAD', 'IMPORTANT', 'Label_2'] },
  );
  deliver(
    [
      'From: Alex Wilber <alex@example.com>',
      `To: ${me.email}`,
      'Subject: Lunch on Friday?',
      'Date: Sun, 1 Nov 2026 12:00:00 +0000',
      'Message-ID: <lunch-1@mail.example.com>',
      'Content-Type: text/plain; charset="UTF-8"',
      '',
      'Pizza at noon? The new place on Main Street.',
      '',
    ].join('\r\n'),
    { labelIds: ['INBOX'] },
  );
  deliver(
    [
      'From: Billing <billing@shop.example>',
      `To: ${me.email}`,
      'Subject: =?UTF-8?B?WW91ciBpbnZvaWNlIOKAkyBOb3ZlbWJlcg==?=',
      'Date: Sat, 31 Oct 2026 08:00:00 +0000',
      'Message-ID: <invoice-11@shop.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="m1"',
      '',
      '--m1',
      'Content-Type: text/html; charset="UTF-8"',
      '',
      '<html><body><h1>Invoice</h1><p>Total: 42.00&nbsp;USD</p><p>Thanks &amp; regards</p></body></html>',
      '--m1',
      'Content-Type: application/pdf; name="invoice.pdf"',
      'Content-Disposition: attachment; filename="invoice.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('%PDF-1.4 invoice').toString('base64'),
      '--m1--',
      '',
    ].join('\r\n'),
    { labelIds: ['INBOX', 'Label_1', 'CATEGORY_UPDATES'] },
  );
  deliver(
    [
      'From: Spam <win@spam.example>',
      `To: ${me.email}`,
      'Subject: You won',
      'Date: Mon, 2 Nov 2026 10:00:00 +0000',
      '',
      'Claim your pizza prize now',
    ].join('\r\n'),
    { labelIds: ['SPAM'] },
  );

  function sendMail(body: Record<string, unknown>): StoredMail {
    checkFields(
      body,
      ['raw', 'threadId', 'id', 'labelIds', 'snippet', 'historyId', 'internalDate', 'payload', 'sizeEstimate'],
      'message',
    );
    if (typeof body.raw !== 'string' || body.raw === '')
      throw invalid("'raw' RFC822 payload message string or uploading message via /upload/* URL required");
    if (!/^[A-Za-z0-9_\-+/]*={0,2}$/.test(body.raw)) {
      throw invalid(
        `Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed for "${body.raw.slice(0, 20)}"`,
      );
    }
    const raw = Buffer.from(body.raw, 'base64url').toString('utf8');
    const payload = parsePart(raw);
    const recipients = ['To', 'Cc', 'Bcc'].map((name) => headerOf(payload.headers, name) ?? '').join(',');
    if (!/[^\s@<>,]+@[^\s@<>,]+/.test(recipients)) throw invalid('Recipient address required');
    let threadId: string | undefined;
    if (body.threadId !== undefined) {
      if (typeof body.threadId !== 'string') throw invalid("Invalid value at 'message.thread_id' (TYPE_STRING)");
      const thread = messages.filter((mail) => mail.threadId === body.threadId);
      if (!thread.length) throw notFound('gmail');
      // Gmail threads a message only if it answers a message of the thread and keeps its subject.
      const cited = `${headerOf(payload.headers, 'In-Reply-To') ?? ''} ${headerOf(payload.headers, 'References') ?? ''}`;
      const answers = thread.some((mail) => {
        const id = headerOf(mail.payload.headers, 'Message-ID');
        return id !== undefined && cited.includes(id);
      });
      const sameSubject = thread.some(
        (mail) =>
          normalizedSubject(headerOf(mail.payload.headers, 'Subject')) ===
          normalizedSubject(headerOf(payload.headers, 'Subject')),
      );
      if (answers && sameSubject) threadId = body.threadId;
    }
    // Gmail adds what the client leaves out: the sender, the date, a Message-ID.
    const added = [
      ...(headerOf(payload.headers, 'From') ? [] : [`From: ${me.name} <${me.email}>`]),
      ...(headerOf(payload.headers, 'Date') ? [] : [`Date: ${new Date().toUTCString().replace('GMT', '+0000')}`]),
      ...(headerOf(payload.headers, 'Message-ID') ? [] : [`Message-ID: <${hexId()}@mail.gmail.com>`]),
    ];
    const mail = deliver([...added, raw].join('\r\n'), {
      labelIds: ['SENT'],
      internalDate: Date.now(),
      ...(threadId ? { threadId } : {}),
    });
    sent.push(mail);
    return mail;
  }

  function gmailRoute(method: string, segments: string[], query: Record<string, string | string[]>, body: unknown) {
    // /gmail/v1/users/{userId}/...
    const [, , , , userId, collection, id, extra] = segments;
    if (userId !== 'me' && userId !== me.email) {
      throw new GoogleFailure(403, `Delegation denied for ${me.email}`, 'forbidden');
    }
    if (collection === 'messages' && id === undefined && method === 'GET') {
      checkQuery(query, ['q', 'maxResults', 'pageToken', 'labelIds', 'includeSpamTrash']);
      const max = integer(query, 'maxResults', 100, 500);
      const includeSpamTrash = boolean(query, 'includeSpamTrash');
      const q = single(query, 'q') ?? '';
      const labels = list(query, 'labelIds');
      const found = messages
        .filter((mail) => (q.includes('in:anywhere') ? true : visible(mail, includeSpamTrash)))
        .filter((mail) => labels.every((label) => mail.labelIds.includes(label)))
        .filter((mail) => matchesSearch(mail, q))
        .sort(byNewest);
      const page = pager.page(
        found,
        `gmail:${q}:${labels.join(',')}:${includeSpamTrash}:${max}`,
        max,
        single(query, 'pageToken'),
      );
      return {
        ...(page.items.length
          ? { messages: page.items.map((mail) => ({ id: mail.id, threadId: mail.threadId })) }
          : {}),
        ...(page.next ? { nextPageToken: page.next } : {}),
        resultSizeEstimate: found.length,
      };
    }
    if (collection === 'messages' && id === 'send' && extra === undefined && method === 'POST') {
      checkQuery(query, []);
      const mail = sendMail(body as Record<string, unknown>);
      return { id: mail.id, threadId: mail.threadId, labelIds: mail.labelIds };
    }
    if (collection === 'messages' && id !== undefined && extra === undefined && method === 'GET') {
      checkQuery(query, ['format', 'metadataHeaders']);
      const format = enumValue(query, 'format', ['minimal', 'full', 'raw', 'metadata'], 'full');
      const mail = messages.find((entry) => entry.id === id);
      if (!mail) throw notFound('gmail');
      return messageResource(mail, format, list(query, 'metadataHeaders'));
    }
    if (collection === 'threads' && id !== undefined && extra === undefined && method === 'GET') {
      checkQuery(query, ['format', 'metadataHeaders']);
      const format = enumValue(query, 'format', ['minimal', 'full', 'metadata'], 'full');
      const thread = messages
        .filter((mail) => mail.threadId === id)
        .sort((left, right) => left.internalDate - right.internalDate);
      if (!thread.length) throw notFound('gmail');
      return {
        id,
        historyId: String(100000 + messages.length),
        messages: thread.map((mail) => messageResource(mail, format, list(query, 'metadataHeaders'))),
      };
    }
    if (collection === 'labels' && id === undefined && method === 'GET') {
      checkQuery(query, []);
      return {
        labels: gmailLabels.map((label) =>
          label.type === 'user' ? { ...label, messageListVisibility: 'show', labelListVisibility: 'labelShow' } : label,
        ),
      };
    }
    return undefined;
  }

  // Calendar ---------------------------------------------------------------------------------------------------
  const calendarZone = 'Europe/Paris';
  const calendars = new Map<string, { zone: string; events: StoredEvent[]; readable: boolean }>([
    [me.email, { zone: calendarZone, events: [], readable: true }],
    // A colleague's calendar: its busy times are visible, its events are not.
    ['megan@example.com', { zone: 'UTC', events: [], readable: false }],
  ]);
  const calendarOf = (id: string) => calendars.get(id === 'primary' ? me.email : id);
  const eventId = () => randomBytes(13).toString('hex').replace(/[w-z]/g, 'v').slice(0, 26);
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, '.000Z');
  const seedEvent = (calendarId: string, fields: Partial<StoredEvent> & Pick<StoredEvent, 'start' | 'end'>) => {
    const event: StoredEvent = {
      id: eventId(),
      status: 'confirmed',
      created: '2026-10-01T08:00:00.000Z',
      updated: '2026-10-01T08:00:00.000Z',
      sequence: 0,
      ...fields,
    };
    calendarOf(calendarId)?.events.push(event);
    return event;
  };
  seedEvent(me.email, {
    summary: 'Team standup',
    start: { dateTime: '2026-11-03T09:00:00+01:00', timeZone: 'Europe/Paris' },
    end: { dateTime: '2026-11-03T09:15:00+01:00', timeZone: 'Europe/Paris' },
  });
  seedEvent(me.email, {
    summary: '1:1 with Megan',
    description: 'Roadmap and hiring',
    start: { dateTime: '2026-11-03T14:00:00+01:00' },
    end: { dateTime: '2026-11-03T14:30:00+01:00' },
    attendees: [{ email: 'megan@example.com', responseStatus: 'accepted' }],
  });
  seedEvent(me.email, { summary: 'Offsite', start: { date: '2026-11-05' }, end: { date: '2026-11-06' } });
  seedEvent('megan@example.com', {
    summary: 'Private',
    start: { dateTime: '2026-11-03T10:00:00Z' },
    end: { dateTime: '2026-11-03T11:00:00Z' },
  });
  seedEvent('megan@example.com', {
    summary: 'Private too',
    start: { dateTime: '2026-11-03T10:30:00Z' },
    end: { dateTime: '2026-11-03T12:00:00Z' },
  });

  const bounds = (event: StoredEvent, zone: string) => {
    const instant = (time: StoredEvent['start']) =>
      time.date ? dayStart(time.date, zone) : (parseTime(time.dateTime ?? '', time.timeZone) ?? Number.NaN);
    return { start: instant(event.start), end: instant(event.end) };
  };
  const eventResource = (event: StoredEvent, calendarId: string, zone: string) => {
    const time = (value: StoredEvent['start']) =>
      value.date
        ? { date: value.date }
        : {
            dateTime: formatInZone(parseTime(value.dateTime ?? '', value.timeZone) ?? 0, value.timeZone ?? zone),
            ...(value.timeZone ? { timeZone: value.timeZone } : {}),
          };
    const owner = calendarId === 'primary' ? me.email : calendarId;
    return {
      kind: 'calendar#event',
      etag: `"${3_400_000_000_000_000 + event.sequence * 1000 + event.id.length}"`,
      id: event.id,
      status: event.status,
      htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(`${event.id} ${owner}`).toString('base64url')}`,
      created: event.created,
      updated: event.updated,
      ...(event.summary !== undefined ? { summary: event.summary } : {}),
      ...(event.description !== undefined ? { description: event.description } : {}),
      ...(event.location !== undefined ? { location: event.location } : {}),
      creator: { email: owner, ...(owner === me.email ? { self: true } : {}) },
      organizer: { email: owner, ...(owner === me.email ? { self: true } : {}) },
      start: time(event.start),
      end: time(event.end),
      iCalUID: `${event.id}@google.com`,
      sequence: event.sequence,
      ...(event.attendees?.length ? { attendees: event.attendees } : {}),
      ...(event.transparency ? { transparency: event.transparency } : {}),
      reminders: { useDefault: true },
      eventType: 'default',
    };
  };
  const eventWritable = [
    'summary',
    'description',
    'location',
    'start',
    'end',
    'attendees',
    'colorId',
    'reminders',
    'recurrence',
    'status',
    'transparency',
    'visibility',
    'id',
    'guestsCanInviteOthers',
    'guestsCanModify',
    'guestsCanSeeOtherGuests',
    'anyoneCanAddSelf',
    'conferenceData',
    'extendedProperties',
    'attachments',
    'source',
    'eventType',
    'sequence',
  ];

  /** A start or end as given, checked as Calendar checks it; `which` names it in Google's messages. */
  function eventTime(value: unknown, which: 'start' | 'end'): StoredEvent['start'] {
    const time = checkFields(value, ['date', 'dateTime', 'timeZone'], `resource.${which}`);
    const date = time.date ?? undefined;
    const dateTime = time.dateTime ?? undefined;
    const zone = time.timeZone ?? undefined;
    if (zone !== undefined && (typeof zone !== 'string' || !validZone(zone))) {
      throw invalid(`Invalid time zone definition for ${which} time.`, 'invalid');
    }
    if (date !== undefined && dateTime !== undefined) throw invalid(`Invalid ${which} time.`, 'invalid');
    if (date !== undefined) {
      if (typeof date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(date))
        throw invalid(`Invalid ${which} time.`, 'invalid');
      return { date, ...(zone ? { timeZone: zone as string } : {}) };
    }
    if (typeof dateTime !== 'string' || !rfc3339.exec(dateTime)) {
      throw invalid(
        dateTime === undefined ? `Missing ${which} time.` : `Invalid ${which} time.`,
        dateTime === undefined ? 'required' : 'invalid',
      );
    }
    if (parseTime(dateTime, zone as string | undefined) === null) {
      throw invalid(`Missing time zone definition for ${which} time.`, 'required');
    }
    return { dateTime, ...(zone ? { timeZone: zone as string } : {}) };
  }

  function attendeesOf(value: unknown): StoredEvent['attendees'] {
    if (!Array.isArray(value)) throw invalid("Invalid JSON payload received. Expected a list at 'resource.attendees'.");
    return value.map((entry) => {
      const attendee = checkFields(
        entry,
        ['email', 'displayName', 'optional', 'responseStatus', 'comment', 'additionalGuests', 'resource'],
        'resource.attendees',
      );
      if (typeof attendee.email !== 'string' || !attendee.email.includes('@'))
        throw invalid('Missing attendee email.', 'required');
      return {
        email: attendee.email,
        responseStatus: typeof attendee.responseStatus === 'string' ? attendee.responseStatus : 'needsAction',
        ...(attendee.optional === true ? { optional: true } : {}),
        ...(typeof attendee.displayName === 'string' ? { displayName: attendee.displayName } : {}),
      };
    });
  }

  /** Applies a resource's fields to an event: null clears a field (patch), a start or end replaces the whole object. */
  function applyEvent(event: StoredEvent, resource: Record<string, unknown>) {
    for (const field of ['summary', 'description', 'location'] as const) {
      if (!(field in resource)) continue;
      const value = resource[field];
      if (value === null) delete event[field];
      else if (typeof value === 'string') event[field] = value;
      else throw invalid(`Invalid value for ${field}`, 'invalid');
    }
    if ('start' in resource) event.start = eventTime(resource.start, 'start');
    if ('end' in resource) event.end = eventTime(resource.end, 'end');
    if ('attendees' in resource) event.attendees = resource.attendees === null ? [] : attendeesOf(resource.attendees);
    if (typeof resource.transparency === 'string') event.transparency = resource.transparency;
  }

  function checkEventRange(event: StoredEvent, zone: string) {
    const { start, end } = bounds(event, zone);
    if (Boolean(event.start.date) !== Boolean(event.end.date)) throw invalid('Invalid start time.', 'invalid');
    if (!(end > start)) throw invalid('The specified time range is empty.', 'timeRangeEmpty');
  }

  function calendarRoute(method: string, segments: string[], query: Record<string, string | string[]>, body: unknown) {
    // /calendar/v3/freeBusy, /calendar/v3/calendars/{calendarId}/events[/{eventId}]
    if (segments.length === 4 && segments[3] === 'freeBusy' && method === 'POST') {
      checkQuery(query, []);
      const request = checkFields(
        body,
        ['timeMin', 'timeMax', 'timeZone', 'groupExpansionMax', 'calendarExpansionMax', 'items'],
        'resource',
      );
      if (request.timeMin === undefined) throw invalid('Missing timeMin parameter.', 'required');
      if (request.timeMax === undefined) throw invalid('Missing timeMax parameter.', 'required');
      const timeMin = parseTime(String(request.timeMin), undefined);
      const timeMax = parseTime(String(request.timeMax), undefined);
      if (timeMin === null || timeMax === null) throw invalid('Bad Request', 'badRequest');
      if (timeMax <= timeMin) throw invalid('The specified time range is empty.', 'timeRangeEmpty');
      const zone = request.timeZone === undefined ? 'UTC' : String(request.timeZone);
      if (!validZone(zone)) throw invalid('Invalid time zone definition.', 'invalid');
      if (!Array.isArray(request.items)) throw invalid('Missing items.', 'required');
      const result: Record<string, unknown> = {};
      for (const item of request.items) {
        const { id } = checkFields(item, ['id'], 'resource.items') as { id?: unknown };
        if (typeof id !== 'string') throw invalid('Missing calendar id.', 'required');
        const calendar = calendarOf(id);
        if (!calendar) {
          result[id] = { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] };
          continue;
        }
        const intervals = calendar.events
          .filter((event) => event.status !== 'cancelled' && event.transparency !== 'transparent')
          .map((event) => bounds(event, calendar.zone))
          .filter((slot) => slot.end > timeMin && slot.start < timeMax)
          .map((slot) => ({ start: Math.max(slot.start, timeMin), end: Math.min(slot.end, timeMax) }))
          .sort((left, right) => left.start - right.start);
        const merged: { start: number; end: number }[] = [];
        for (const slot of intervals) {
          const last = merged.at(-1);
          if (last && slot.start <= last.end) last.end = Math.max(last.end, slot.end);
          else merged.push({ ...slot });
        }
        result[id] = {
          busy: merged.map((slot) => ({ start: formatInZone(slot.start, zone), end: formatInZone(slot.end, zone) })),
        };
      }
      return {
        kind: 'calendar#freeBusy',
        timeMin: new Date(timeMin).toISOString(),
        timeMax: new Date(timeMax).toISOString(),
        calendars: result,
      };
    }
    const [, , , resource, calendarId, collection, id, extra] = segments;
    if (resource !== 'calendars' || calendarId === undefined || collection !== 'events' || extra !== undefined) {
      return undefined;
    }
    const calendar = calendarOf(calendarId);
    const known = calendar?.readable ? calendar : undefined;
    if (id === undefined && method === 'GET') {
      checkQuery(query, [
        'timeMin',
        'timeMax',
        'q',
        'maxResults',
        'pageToken',
        'singleEvents',
        'orderBy',
        'showDeleted',
        'timeZone',
        'updatedMin',
        'iCalUID',
        'maxAttendees',
        'syncToken',
        'eventTypes',
        'showHiddenInvitations',
        'alwaysIncludeEmail',
        'privateExtendedProperty',
        'sharedExtendedProperty',
      ]);
      if (!known) throw notFound('calendar');
      const instant = (name: string) => {
        const value = single(query, name);
        if (value === undefined) return undefined;
        const parsed = rfc3339.exec(value)?.[7] ? Date.parse(value) : Number.NaN;
        if (Number.isNaN(parsed)) throw invalid('Bad Request', 'badRequest');
        return parsed;
      };
      const timeMin = instant('timeMin');
      const timeMax = instant('timeMax');
      if (timeMin !== undefined && timeMax !== undefined && timeMax <= timeMin) {
        throw invalid('The specified time range is empty.', 'timeRangeEmpty');
      }
      const orderBy = single(query, 'orderBy');
      if (orderBy !== undefined && !['startTime', 'updated'].includes(orderBy))
        throw invalid('Invalid Value', 'invalid');
      const singleEvents = boolean(query, 'singleEvents');
      if (orderBy === 'startTime' && !singleEvents) {
        throw invalid('The requested ordering is not available for the particular query.', 'badRequest');
      }
      const max = integer(query, 'maxResults', 250, 2500);
      if (max < 1) throw invalid('Invalid Value', 'invalid');
      const zone = single(query, 'timeZone') ?? known.zone;
      const q = (single(query, 'q') ?? '').toLowerCase();
      const found = known.events
        .filter((event) => event.status !== 'cancelled' || boolean(query, 'showDeleted'))
        .filter((event) => {
          const { start, end } = bounds(event, known.zone);
          return (timeMin === undefined || end > timeMin) && (timeMax === undefined || start < timeMax);
        })
        .filter((event) =>
          q
            ? q
                .split(/\s+/)
                .every((word) =>
                  [event.summary, event.description, event.location, ...(event.attendees ?? []).map((a) => a.email)]
                    .join(' ')
                    .toLowerCase()
                    .includes(word),
                )
            : true,
        )
        .sort((left, right) =>
          orderBy === 'updated'
            ? left.updated.localeCompare(right.updated)
            : bounds(left, known.zone).start - bounds(right, known.zone).start,
        );
      const page = pager.page(
        found,
        `calendar:${calendarId}:${[...Object.entries(query)].filter(([name]) => name !== 'pageToken').join('&')}`,
        max,
        single(query, 'pageToken'),
      );
      return {
        kind: 'calendar#events',
        etag: '"p33c9hd2nj2uoi0g"',
        summary: me.email,
        description: '',
        updated: now(),
        timeZone: known.zone,
        accessRole: 'owner',
        defaultReminders: [{ method: 'popup', minutes: 10 }],
        ...(page.next ? { nextPageToken: page.next } : {}),
        items: page.items.map((event) => eventResource(event, calendarId, zone)),
      };
    }
    if (id === undefined && method === 'POST') {
      checkQuery(query, [
        'sendUpdates',
        'sendNotifications',
        'conferenceDataVersion',
        'maxAttendees',
        'supportsAttachments',
      ]);
      enumValue(query, 'sendUpdates', ['all', 'externalOnly', 'none'], 'none');
      if (!known) throw notFound('calendar');
      const resource = checkFields(body, eventWritable, 'resource');
      if (resource.start === undefined) throw invalid('Missing start time.', 'required');
      if (resource.end === undefined) throw invalid('Missing end time.', 'required');
      const created = now();
      const event: StoredEvent = {
        id: eventId(),
        status: 'confirmed',
        start: {},
        end: {},
        created,
        updated: created,
        sequence: 0,
      };
      applyEvent(event, resource);
      checkEventRange(event, known.zone);
      known.events.push(event);
      return eventResource(event, calendarId, known.zone);
    }
    if (id !== undefined && (method === 'PATCH' || method === 'DELETE')) {
      checkQuery(query, [
        'sendUpdates',
        'sendNotifications',
        'conferenceDataVersion',
        'maxAttendees',
        'supportsAttachments',
        'alwaysIncludeEmail',
      ]);
      enumValue(query, 'sendUpdates', ['all', 'externalOnly', 'none'], 'none');
      if (!known) throw notFound('calendar');
      const event = known.events.find((entry) => entry.id === id);
      if (!event) throw notFound('calendar');
      if (method === 'DELETE') {
        if (event.status === 'cancelled') throw new GoogleFailure(410, 'Resource has been deleted', 'deleted');
        event.status = 'cancelled';
        event.updated = now();
        return null;
      }
      const resource = checkFields(body, eventWritable, 'resource');
      const next: StoredEvent = structuredClone(event);
      applyEvent(next, resource);
      checkEventRange(next, known.zone);
      Object.assign(event, next, { updated: now(), sequence: event.sequence + 1 });
      return eventResource(event, calendarId, known.zone);
    }
    return undefined;
  }

  // Sheets -----------------------------------------------------------------------------------------------------
  const spreadsheets = new Map<string, StoredSpreadsheet>();
  const newSheet = (title: string, index: number, sheetId: number): StoredSheet => ({
    sheetId,
    title,
    index,
    rowCount: 1000,
    columnCount: 26,
    rows: [],
  });
  const budget: StoredSpreadsheet = {
    spreadsheetId: '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms',
    title: 'Budget 2026',
    sheets: [newSheet('Expenses', 0, 0), newSheet('Summary Q4', 1, 1795043213)],
  };
  spreadsheets.set(budget.spreadsheetId, budget);
  const expenses = budget.sheets[0] as StoredSheet;
  for (const [rowIndex, row] of [
    ['Date', 'Item', 'Amount'],
    ['2026-11-01', 'Laptop', 1200],
    ['2026-11-02', 'Coffee', 4.5],
  ].entries()) {
    expenses.rows[rowIndex] = row.map((value) =>
      typeof value === 'number' ? { kind: 'number', value } : { kind: 'string', value },
    );
  }

  function write(range: GridRange, values: unknown[][], mode: string, startRow: number) {
    const rows = values.length;
    const columns = Math.max(0, ...values.map((row) => row.length));
    if (!range.anchorOnly) {
      if (range.startRow + rows - 1 > range.endRow) {
        throw invalid(
          `Requested writing within range [${a1(range.sheet, range.startRow, range.startColumn, range.endRow, range.endColumn)}], but tried writing to row [${range.startRow + rows}]`,
        );
      }
      if (range.startColumn + columns - 1 > range.endColumn) {
        throw invalid(
          `Requested writing within range [${a1(range.sheet, range.startRow, range.startColumn, range.endRow, range.endColumn)}], but tried writing to column [${columnName(range.startColumn + columns - 1)}]`,
        );
      }
    }
    if (startRow + rows > range.sheet.rowCount || range.startColumn + columns > range.sheet.columnCount) {
      throw invalid(
        `Range (${sheetName(range.sheet.title)}!${columnName(range.startColumn)}${startRow + 1}) exceeds grid limits. Max rows: ${range.sheet.rowCount}, max columns: ${range.sheet.columnCount}`,
      );
    }
    let cells = 0;
    values.forEach((row, rowOffset) => {
      if (!Array.isArray(row)) throw invalid("Invalid JSON payload received. Expected a list at 'data.values'.");
      const target = range.sheet.rows[startRow + rowOffset] ?? [];
      range.sheet.rows[startRow + rowOffset] = target;
      row.forEach((value, columnOffset) => {
        const cell = inputCell(value, mode);
        if (cell === null) return;
        target[range.startColumn + columnOffset] = cell === 'clear' ? null : cell;
        cells++;
      });
    });
    return {
      spreadsheetId: '',
      updatedRange: a1(
        range.sheet,
        startRow,
        range.startColumn,
        startRow + rows - 1,
        range.startColumn + Math.max(columns, 1) - 1,
      ),
      updatedRows: rows,
      updatedColumns: columns,
      updatedCells: cells,
    };
  }

  function valueRangeBody(body: unknown, range: string): unknown[][] {
    const resource = checkFields(body, ['range', 'majorDimension', 'values'], 'data');
    if (resource.range !== undefined && resource.range !== range) {
      throw invalid(`Requested writing within range [${range}], but tried writing to [${String(resource.range)}]`);
    }
    if (resource.majorDimension !== undefined && !['ROWS', 'COLUMNS'].includes(String(resource.majorDimension))) {
      throw invalid(
        `Invalid value at 'data.major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), "${String(resource.majorDimension)}"`,
      );
    }
    if (!Array.isArray(resource.values)) return [];
    const values = resource.values as unknown[][];
    if (resource.majorDimension !== 'COLUMNS') return values;
    const width = Math.max(0, ...values.map((column) => column.length));
    return Array.from({ length: width }, (_unused, row) => values.map((column) => column[row] ?? null));
  }

  function sheetsRoute(method: string, segments: string[], query: Record<string, string | string[]>, body: unknown) {
    // /v4/spreadsheets, /v4/spreadsheets/{id}/values/{range}[:append]
    if (segments.length === 3 && method === 'POST') {
      checkQuery(query, []);
      const resource = checkFields(
        body,
        ['spreadsheetId', 'properties', 'sheets', 'namedRanges', 'developerMetadata', 'dataSources'],
        'spreadsheet',
      );
      const properties = checkFields(
        resource.properties ?? {},
        [
          'title',
          'locale',
          'autoRecalc',
          'timeZone',
          'defaultFormat',
          'iterativeCalculationSettings',
          'spreadsheetTheme',
        ],
        'spreadsheet.properties',
      );
      const sheetsIn = resource.sheets === undefined ? [{ properties: {} }] : resource.sheets;
      if (!Array.isArray(sheetsIn))
        throw invalid("Invalid JSON payload received. Expected a list at 'spreadsheet.sheets'.");
      const spreadsheet: StoredSpreadsheet = {
        spreadsheetId: randomBytes(33).toString('base64url'),
        title: typeof properties.title === 'string' && properties.title ? properties.title : 'Untitled spreadsheet',
        sheets: [],
      };
      sheetsIn.forEach((entry, index) => {
        const sheet = checkFields(
          entry,
          ['properties', 'data', 'merges', 'conditionalFormats', 'protectedRanges', 'charts'],
          `spreadsheet.sheets[${index}]`,
        );
        const sheetProperties = checkFields(
          sheet.properties ?? {},
          ['sheetId', 'title', 'index', 'sheetType', 'gridProperties', 'hidden', 'tabColor', 'rightToLeft'],
          `spreadsheet.sheets[${index}].properties`,
        );
        const title = typeof sheetProperties.title === 'string' ? sheetProperties.title : `Sheet${index + 1}`;
        if (spreadsheet.sheets.some((existing) => existing.title === title)) {
          throw invalid(
            `Invalid requests[${index}].addSheet: A sheet with the name "${title}" already exists. Please enter another name.`,
          );
        }
        spreadsheet.sheets.push(newSheet(title, index, index === 0 ? 0 : randomInt(1, 2_000_000_000)));
      });
      spreadsheets.set(spreadsheet.spreadsheetId, spreadsheet);
      return {
        spreadsheetId: spreadsheet.spreadsheetId,
        properties: {
          title: spreadsheet.title,
          locale: 'en_US',
          autoRecalc: 'ON_CHANGE',
          timeZone: 'Etc/GMT',
          defaultFormat: {
            backgroundColor: { red: 1, green: 1, blue: 1 },
            textFormat: { fontFamily: 'arial', fontSize: 10 },
          },
        },
        sheets: spreadsheet.sheets.map((sheet) => ({
          properties: {
            sheetId: sheet.sheetId,
            title: sheet.title,
            index: sheet.index,
            sheetType: 'GRID',
            gridProperties: { rowCount: sheet.rowCount, columnCount: sheet.columnCount },
          },
        })),
        spreadsheetUrl: `https://docs.google.com/spreadsheets/d/${spreadsheet.spreadsheetId}/edit`,
      };
    }
    const [, , , spreadsheetId, collection, rangeSegment, extra] = segments;
    if (spreadsheetId === undefined || collection !== 'values' || rangeSegment === undefined || extra !== undefined) {
      return undefined;
    }
    const append = rangeSegment.endsWith(':append');
    const rangeText = append ? rangeSegment.slice(0, -':append'.length) : rangeSegment;
    const renderOptions = ['FORMATTED_VALUE', 'UNFORMATTED_VALUE', 'FORMULA'];
    const lookup = () => {
      const spreadsheet = spreadsheets.get(spreadsheetId);
      if (!spreadsheet) throw notFound('sheets');
      return spreadsheet;
    };
    const inputOption = () => {
      const value = single(query, 'valueInputOption');
      if (value === undefined) throw invalid("'valueInputOption' is required but not specified");
      if (!['RAW', 'USER_ENTERED'].includes(value)) {
        throw invalid(
          `Invalid value at 'value_input_option' (type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "${value}"`,
        );
      }
      return value;
    };
    if (!append && method === 'GET') {
      checkQuery(query, ['majorDimension', 'valueRenderOption', 'dateTimeRenderOption']);
      const majorDimension = enumValue(query, 'majorDimension', ['ROWS', 'COLUMNS'], 'ROWS');
      const option = enumValue(query, 'valueRenderOption', renderOptions, 'FORMATTED_VALUE');
      enumValue(query, 'dateTimeRenderOption', ['SERIAL_NUMBER', 'FORMATTED_STRING'], 'SERIAL_NUMBER');
      const range = parseRange(lookup(), rangeText);
      let values = readRange(range, option);
      if (majorDimension === 'COLUMNS') {
        const width = Math.max(0, ...values.map((row) => row.length));
        values = Array.from({ length: width }, (_unused, column) => {
          const cells = values.map((row) => row[column] ?? '');
          while (cells.length && cells.at(-1) === '') cells.pop();
          return cells;
        });
      }
      const endRow = Math.min(range.endRow, range.sheet.rowCount - 1);
      const endColumn = Math.min(range.endColumn, range.sheet.columnCount - 1);
      return {
        range: a1(range.sheet, range.startRow, range.startColumn, endRow, endColumn),
        majorDimension,
        ...(values.length ? { values } : {}),
      };
    }
    if (!append && method === 'PUT') {
      checkQuery(query, [
        'valueInputOption',
        'includeValuesInResponse',
        'responseValueRenderOption',
        'responseDateTimeRenderOption',
      ]);
      const mode = inputOption();
      const spreadsheet = lookup();
      const range = parseRange(spreadsheet, rangeText);
      const result = write(range, valueRangeBody(body, rangeText), mode, range.startRow);
      return { ...result, spreadsheetId };
    }
    if (append && method === 'POST') {
      checkQuery(query, [
        'valueInputOption',
        'insertDataOption',
        'includeValuesInResponse',
        'responseValueRenderOption',
        'responseDateTimeRenderOption',
      ]);
      const mode = inputOption();
      const insert = enumValue(query, 'insertDataOption', ['OVERWRITE', 'INSERT_ROWS'], 'OVERWRITE');
      const spreadsheet = lookup();
      const range = parseRange(spreadsheet, rangeText);
      const values = valueRangeBody(body, rangeText);
      const sheet = range.sheet;
      const lastColumn = range.anchorOnly ? sheet.columnCount - 1 : range.endColumn;
      const lastRow = range.anchorOnly ? sheet.rowCount - 1 : range.endRow;
      // The table: the first rows with data from the range's start, down to the first empty row.
      let tableStart = -1;
      let tableEnd = -1;
      for (let row = range.startRow; row <= lastRow && row < sheet.rows.length; row++) {
        const empty = rowIsEmpty(sheet, row, range.startColumn, lastColumn);
        if (tableStart < 0 && !empty) tableStart = row;
        if (tableStart >= 0 && empty) break;
        if (!empty) tableEnd = row;
      }
      const at = tableEnd >= 0 ? tableEnd + 1 : range.startRow;
      if (insert === 'INSERT_ROWS') {
        sheet.rows.splice(at, 0, ...values.map(() => []));
        sheet.rowCount += values.length;
      }
      let tableWidth = 0;
      for (let row = tableStart; tableStart >= 0 && row <= tableEnd; row++) {
        const cells = sheet.rows[row] ?? [];
        for (let column = lastColumn; column >= range.startColumn; column--) {
          if (cells[column]) {
            tableWidth = Math.max(tableWidth, column - range.startColumn + 1);
            break;
          }
        }
      }
      const updates = write({ ...range, anchorOnly: true }, values, mode, at);
      return {
        spreadsheetId,
        ...(tableStart >= 0
          ? { tableRange: a1(sheet, tableStart, range.startColumn, tableEnd, range.startColumn + tableWidth - 1) }
          : {}),
        updates: { ...updates, spreadsheetId },
      };
    }
    return undefined;
  }

  // HTTP -------------------------------------------------------------------------------------------------------
  const apiOf = (segments: string[]): Api | undefined => {
    if (segments[1] === 'gmail' && segments[2] === 'v1' && segments[3] === 'users') return 'gmail';
    if (segments[1] === 'calendar' && segments[2] === 'v3') return 'calendar';
    if (segments[1] === 'v4' && segments[2] === 'spreadsheets') return 'sheets';
    return undefined;
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of url.searchParams) {
      const existing = query[name];
      query[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    }
    const contentType = request.headers['content-type'];
    let body: unknown = text;
    let malformed = false;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        malformed = true;
      }
    }
    const method = request.method ?? 'GET';
    requests.push({
      method,
      pathname: url.pathname,
      query,
      authorization: request.headers.authorization,
      contentType,
      body: text ? body : undefined,
    });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      if (payload === null) {
        response.writeHead(status, headers);
        response.end();
        return;
      }
      response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
      response.end(JSON.stringify(payload));
    };
    const forced = failures.get(url.pathname);
    if (forced) {
      failures.delete(url.pathname);
      send(forced.status, forced.body, forced.headers);
      return;
    }
    const segments = url.pathname.split('/').map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
    const api = apiOf(segments);
    const unknown = () => {
      response.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
      response.end(frontEnd404(url.pathname));
    };
    if (!api) return unknown();
    try {
      const authorization = request.headers.authorization;
      if (authorization !== `Bearer ${token}`) {
        const missing = !authorization;
        const message =
          api === 'calendar'
            ? missing
              ? 'Login Required.'
              : 'Invalid Credentials'
            : missing
              ? 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'
              : 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
        throw new GoogleFailure(401, message, missing ? 'required' : 'authError', {
          'www-authenticate': `Bearer realm="https://accounts.google.com/"${missing ? '' : ', error="invalid_token"'}`,
        });
      }
      if (['POST', 'PUT', 'PATCH'].includes(method)) {
        if (malformed || (text && !/^application\/json\b/.test(contentType ?? ''))) {
          throw invalid(`Invalid JSON payload received. Unexpected token.\n${text.slice(0, 40)}\n^`);
        }
        if (!text) body = {};
      }
      const route = api === 'gmail' ? gmailRoute : api === 'calendar' ? calendarRoute : sheetsRoute;
      const result = route(method, segments, query, body);
      if (result === undefined) return unknown();
      send(result === null ? 204 : 200, result);
    } catch (error) {
      if (!(error instanceof GoogleFailure)) throw error;
      send(error.status, errorBody(api, error), error.headers);
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json; charset=UTF-8' });
      response.end(JSON.stringify({ error: { code: 500, message: String(error), status: 'INTERNAL' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    me,
    requests,
    gmail: { messages, sent, deliver },
    calendar: {
      events: (calendarId) => calendarOf(calendarId)?.events ?? [],
    },
    sheets: {
      spreadsheets,
      formatted: (spreadsheetId, sheetTitle) => {
        const spreadsheet = spreadsheets.get(spreadsheetId);
        const sheet = spreadsheet?.sheets.find((entry) => entry.title === sheetTitle);
        if (!sheet) throw new Error(`no sheet ${sheetTitle} in ${spreadsheetId}`);
        return readRange(
          {
            sheet,
            startRow: 0,
            startColumn: 0,
            endRow: sheet.rowCount - 1,
            endColumn: sheet.columnCount - 1,
            anchorOnly: false,
          },
          'FORMATTED_VALUE',
        ) as string[][];
      },
    },
    fail(path, status, body, headers = {}) {
      failures.set(path, { status, body, headers });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
