import { auth, type calendar_v3, calendar as calendarApi } from '@googleapis/calendar';
import { callGoogle, googleClientOptions, requestOptions } from './google.js';
import type { OfficialTool, OfficialToolContext } from './official-tool.js';

const provider = 'Google Calendar';

/** A client for one call: the caller's access token, the configured API root, no retries. */
function client(context: OfficialToolContext): calendar_v3.Calendar {
  const oauth = new auth.OAuth2();
  oauth.setCredentials({ access_token: context.credentials.token ?? '' });
  return calendarApi({ version: 'v3', auth: oauth, ...googleClientOptions(context) });
}

const call = <T>(context: OfficialToolContext, run: (calendar: calendar_v3.Calendar) => Promise<T>) =>
  callGoogle(provider, context, () => run(client(context)));

type EventTime = calendar_v3.Schema$EventDateTime;
const time = (value: EventTime | undefined) =>
  value ? { dateTime: value.dateTime ?? null, date: value.date ?? null, timeZone: value.timeZone ?? null } : null;

const event = (item: calendar_v3.Schema$Event) => ({
  id: item.id,
  status: item.status ?? null,
  summary: item.summary ?? null,
  description: item.description ?? null,
  location: item.location ?? null,
  start: time(item.start),
  end: time(item.end),
  allDay: Boolean(item.start?.date),
  organizer: item.organizer?.email ?? null,
  attendees: (item.attendees ?? []).map((attendee) => ({
    email: attendee.email ?? null,
    responseStatus: attendee.responseStatus ?? null,
    optional: attendee.optional ?? false,
  })),
  recurringEventId: item.recurringEventId ?? null,
  htmlLink: item.htmlLink ?? null,
  created: item.created ?? null,
  updated: item.updated ?? null,
});

const date = '\\d{4}-\\d{2}-\\d{2}';
const dateTime = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})?';
const isDate = new RegExp(`^${date}$`);
/** An instant with its offset: what events.list and freeBusy take for a window (Google refuses a bare local time). */
const instant = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'RFC 3339 date and time with offset, e.g. 2026-11-03T00:00:00Z',
};
const eventTime = (which: string) => ({
  type: 'string',
  pattern: `^(${date}|${dateTime})$`,
  description: `${which}: a date (2026-11-03) for an all-day event (the end date is exclusive), or a date and time (2026-11-03T10:00:00+01:00; without an offset, timeZone says where)`,
});
const calendarId = {
  type: 'string',
  minLength: 1,
  maxLength: 1024,
  default: 'primary',
  description: 'a calendar id (an email address, or primary for the user’s own calendar)',
};
const eventId = { type: 'string', pattern: '^[A-Za-z0-9_@.-]{1,1024}$', description: 'an event id' };
const timeZone = {
  type: 'string',
  minLength: 1,
  maxLength: 100,
  description: 'an IANA time zone, e.g. Europe/Paris: how local times are read, and the zone of the event',
};
const sendUpdates = {
  type: 'string',
  enum: ['all', 'externalOnly', 'none'],
  default: 'none',
  description: 'whom Google emails about the change',
};
const eventFields = {
  summary: { type: 'string', maxLength: 1024, description: 'the title' },
  description: { type: 'string', maxLength: 8192 },
  location: { type: 'string', maxLength: 1024 },
  start: eventTime('the start'),
  end: eventTime('the end'),
  timeZone,
  attendees: {
    type: 'array',
    items: { type: 'string', pattern: '^[^\\s@]+@[^\\s@]+$', maxLength: 320 },
    maxItems: 100,
    uniqueItems: true,
    description: 'attendee email addresses',
  },
};

/** Google's form of a start or end: `date` for a day, `dateTime` (and the zone) for a moment. */
function eventTimeBody(value: string, zone: string | undefined, clear: boolean): EventTime {
  if (isDate.test(value)) return { date: value, ...(clear ? { dateTime: null } : {}) };
  return { dateTime: value, ...(zone ? { timeZone: zone } : {}), ...(clear ? { date: null } : {}) };
}

/**
 * The event resource of a create or a patch from the action's params. A patch sends only what it changes; a
 * start or end there clears the other form (a timed event becoming all-day drops its dateTime).
 */
function eventBody(params: Record<string, unknown>, patch: boolean): calendar_v3.Schema$Event {
  const zone = params.timeZone as string | undefined;
  const body: calendar_v3.Schema$Event = {};
  for (const field of ['summary', 'description', 'location'] as const) {
    if (params[field] !== undefined) body[field] = params[field] as string;
  }
  if (params.start !== undefined) body.start = eventTimeBody(params.start as string, zone, patch);
  if (params.end !== undefined) body.end = eventTimeBody(params.end as string, zone, patch);
  if (params.attendees !== undefined) body.attendees = (params.attendees as string[]).map((email) => ({ email }));
  return body;
}

/** Google Calendar of the signed-in Google account, through the Calendar API v3. */
export const googleCalendar: OfficialTool = {
  name: 'google-calendar',
  description: 'Google Calendar: list, create, update and delete events; find busy times of calendars',
  provider: 'Google',
  auth: { kind: 'oauth', provider: 'google', scopes: ['https://www.googleapis.com/auth/calendar'] },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: 'a Google OAuth 2.0 access token with a Calendar scope' } },
  },
  defaultBaseUrl: 'https://www.googleapis.com',
  actions: {
    list_events: {
      description:
        'Events of a calendar in start order, recurring events expanded into their occurrences; a window (timeMin, timeMax) and free-text search (q) narrow it',
      parameters: {
        type: 'object',
        properties: {
          calendarId,
          timeMin: { ...instant, description: `events ending after this; ${instant.description}` },
          timeMax: { ...instant, description: `events starting before this; ${instant.description}` },
          q: {
            type: 'string',
            maxLength: 1024,
            description: 'words to find in summary, description, location, attendees',
          },
          maxResults: { type: 'integer', minimum: 1, maximum: 2500, default: 50 },
          pageToken: {
            type: 'string',
            minLength: 1,
            maxLength: 1024,
            description: 'nextPageToken of the previous answer',
          },
        },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (calendar) => {
          const { data } = await calendar.events.list(
            {
              calendarId: params.calendarId as string,
              singleEvents: true,
              orderBy: 'startTime',
              maxResults: params.maxResults as number,
              ...(params.timeMin ? { timeMin: params.timeMin as string } : {}),
              ...(params.timeMax ? { timeMax: params.timeMax as string } : {}),
              ...(params.q ? { q: params.q as string } : {}),
              ...(params.pageToken ? { pageToken: params.pageToken as string } : {}),
            },
            requestOptions(context),
          );
          return {
            events: (data.items ?? []).map(event),
            timeZone: data.timeZone ?? null,
            nextPageToken: data.nextPageToken ?? null,
          };
        }),
    },
    create_event: {
      description: 'Create an event',
      parameters: {
        type: 'object',
        properties: { calendarId, ...eventFields, sendUpdates },
        required: ['summary', 'start', 'end'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (calendar) => {
          const { data } = await calendar.events.insert(
            {
              calendarId: params.calendarId as string,
              sendUpdates: params.sendUpdates as string,
              requestBody: eventBody(params, false),
            },
            requestOptions(context),
          );
          return event(data);
        }),
    },
    update_event: {
      description:
        'Change some fields of an event; the others stay as they are (attendees, when given, replaces the whole list)',
      parameters: {
        type: 'object',
        properties: { calendarId, eventId, ...eventFields, sendUpdates },
        required: ['eventId'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (calendar) => {
          const { data } = await calendar.events.patch(
            {
              calendarId: params.calendarId as string,
              eventId: params.eventId as string,
              sendUpdates: params.sendUpdates as string,
              requestBody: eventBody(params, true),
            },
            requestOptions(context),
          );
          return event(data);
        }),
    },
    delete_event: {
      description: 'Delete an event',
      parameters: {
        type: 'object',
        properties: { calendarId, eventId, sendUpdates },
        required: ['eventId'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (calendar) => {
          await calendar.events.delete(
            {
              calendarId: params.calendarId as string,
              eventId: params.eventId as string,
              sendUpdates: params.sendUpdates as string,
            },
            requestOptions(context),
          );
          return { deleted: true, calendarId: params.calendarId, eventId: params.eventId };
        }),
    },
    free_busy: {
      description: 'The busy intervals of calendars (the user’s, or colleagues’ they can see) in a window',
      parameters: {
        type: 'object',
        properties: {
          timeMin: instant,
          timeMax: instant,
          calendarIds: {
            type: 'array',
            items: { type: 'string', minLength: 1, maxLength: 1024 },
            minItems: 1,
            maxItems: 50,
            uniqueItems: true,
            default: ['primary'],
            description: 'calendar ids (email addresses, or primary)',
          },
          timeZone: { ...timeZone, description: 'the zone of the answer’s times (UTC if absent)' },
        },
        required: ['timeMin', 'timeMax'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (calendar) => {
          const ids = params.calendarIds as string[];
          const { data } = await calendar.freebusy.query(
            {
              requestBody: {
                timeMin: params.timeMin as string,
                timeMax: params.timeMax as string,
                ...(params.timeZone ? { timeZone: params.timeZone as string } : {}),
                items: ids.map((id) => ({ id })),
              },
            },
            requestOptions(context),
          );
          return {
            timeMin: data.timeMin ?? params.timeMin,
            timeMax: data.timeMax ?? params.timeMax,
            calendars: ids.map((id) => {
              const entry = data.calendars?.[id];
              return {
                id,
                busy: (entry?.busy ?? []).map((slot) => ({ start: slot.start ?? null, end: slot.end ?? null })),
                // A calendar the user cannot see answers notFound here rather than failing the whole query.
                errors: (entry?.errors ?? []).map((error) => error.reason ?? 'unknown'),
              };
            }),
          };
        }),
    },
  },
};
