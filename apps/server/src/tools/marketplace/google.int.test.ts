import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMockProvider, failureOf, runAgentToEnd } from '../../../../../test/support/agent-runs.js';
import { type GoogleServer, startGoogleServer } from '../../../../../test/support/fakes/google.js';
import { type ModelServer, startModelServer } from '../../../../../test/support/model-server.js';
import { useSandboxServer } from '../../../../../test/support/server.js';

type Summary = { id: string; threadId: string; from: string; subject: string; date: string; snippet: string };

describe('marketplace: gmail, google-calendar and google-sheets, against a fake of the three Google APIs', () => {
  let google: GoogleServer;
  let model: ModelServer;
  const fixture = useSandboxServer(async () => {
    google = await startGoogleServer();
    model = await startModelServer();
    return {
      RUNTOOLS_TOOL_GMAIL_BASE_URL: google.url,
      RUNTOOLS_TOOL_GOOGLE_CALENDAR_BASE_URL: google.url,
      RUNTOOLS_TOOL_GOOGLE_SHEETS_BASE_URL: google.url,
    };
  });
  const rt = () => fixture.rt;
  const execute =
    (tool: string) =>
    async (action: string, params: Record<string, unknown>, token: string | null = google.token) =>
      (await rt().tools.execute(tool, { action, params, ...(token !== null ? { credentials: { token } } : {}) }))
        .result as never;
  const gmail = execute('gmail');
  const calendar = execute('google-calendar');
  const sheets = execute('google-sheets');
  const last = () => google.requests.at(-1);
  const budget = '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms';

  beforeAll(async () => {
    for (const tool of ['gmail', 'google-calendar', 'google-sheets']) await rt().tools.install(tool);
  });
  afterAll(async () => {
    await google?.close();
    await model?.close();
  });

  it('lists the three in the marketplace with Google OAuth, their Google scopes and their actions', async () => {
    const tools = Object.fromEntries((await rt().tools.marketplace()).map((tool) => [tool.name, tool]));
    const expected = {
      gmail: [
        'https://www.googleapis.com/auth/gmail.modify',
        ['get_message', 'list_labels', 'search_messages', 'send_message'],
      ],
      'google-calendar': [
        'https://www.googleapis.com/auth/calendar',
        ['create_event', 'delete_event', 'free_busy', 'list_events', 'update_event'],
      ],
      'google-sheets': [
        'https://www.googleapis.com/auth/spreadsheets',
        ['append_values', 'create_spreadsheet', 'get_values', 'update_values'],
      ],
    } as const;
    for (const [name, [scope, actions]] of Object.entries(expected)) {
      expect(tools[name], name).toMatchObject({
        provider: 'Google',
        auth: { kind: 'oauth', provider: 'google', scopes: [scope] },
        installed: true,
      });
      expect(tools[name]?.actions.map((action) => action.name).sort()).toEqual(actions);
    }
  });

  it('gmail search_messages lists newest first with each message’s headers by a metadata get, and pages by nextPageToken', async () => {
    const before = google.requests.length;
    const first: { messages: Summary[]; nextPageToken: string | null; resultSizeEstimate: number } = await gmail(
      'search_messages',
      { maxResults: 2 },
    );
    const sent = google.requests.slice(before);
    expect(sent[0]).toMatchObject({
      method: 'GET',
      pathname: '/gmail/v1/users/me/messages',
      authorization: `Bearer ${google.token}`,
      query: { maxResults: '2' },
    });
    expect(sent.slice(1).map((request) => [request.pathname.split('/').slice(0, 6).join('/'), request.query])).toEqual(
      first.messages.map(() => [
        '/gmail/v1/users/me/messages',
        { format: 'metadata', metadataHeaders: ['From', 'To', 'Subject', 'Date'] },
      ]),
    );
    // The spam message is not in a search that does not ask for it.
    expect(first.resultSizeEstimate).toBe(3);
    expect(first.messages.map((message) => message.subject)).toEqual(['Quarterly report', 'Lunch on Friday?']);
    expect(first.messages[0]).toEqual({
      id: google.gmail.messages[0]?.id,
      threadId: google.gmail.messages[0]?.threadId,
      from: 'Megan Bowen <megan@example.com>',
      to: `${google.me.name} <${google.me.email}>`,
      subject: 'Quarterly report',
      date: 'Mon, 2 Nov 2026 09:15:00 +0000',
      snippet: 'The Q3 numbers are attached. Revenue is up 12 € per user.',
      labelIds: ['INBOX', 'UNREAD', 'IMPORTANT', 'Label_2'],
    });
    expect(first.nextPageToken).toEqual(expect.any(String));

    const second: typeof first = await gmail('search_messages', { maxResults: 2, pageToken: first.nextPageToken });
    expect(google.requests.find((request, index) => index > before && request.query.pageToken)?.query).toEqual({
      maxResults: '2',
      pageToken: first.nextPageToken,
    });
    // An encoded-word subject comes back decoded.
    expect(second.messages.map((message) => message.subject)).toEqual(['Your invoice – November']);
    expect(second.nextPageToken).toBeNull();

    const found: typeof first = await gmail('search_messages', { q: 'from:alex pizza' });
    expect(google.requests.find((request, index) => index > before && request.query.q)?.query.q).toBe(
      'from:alex pizza',
    );
    expect(found.messages.map((message) => message.subject)).toEqual(['Lunch on Friday?']);
    const none: typeof first = await gmail('search_messages', { q: 'subject:nothing-like-this' });
    expect(none).toEqual({ messages: [], nextPageToken: null, resultSizeEstimate: 0 });
  });

  it('gmail get_message decodes the plain-text part, turns HTML-only mail into text, and lists attachments', async () => {
    const [report, , invoice] = google.gmail.messages;
    const message = await gmail('get_message', { id: report?.id });
    expect(last()).toMatchObject({
      method: 'GET',
      pathname: `/gmail/v1/users/me/messages/${report?.id}`,
      query: { format: 'full' },
    });
    expect(message).toEqual({
      id: report?.id,
      threadId: report?.threadId,
      labelIds: ['INBOX', 'UNREAD', 'IMPORTANT', 'Label_2'],
      snippet: 'The Q3 numbers are attached. Revenue is up 12 € per user.',
      headers: {
        from: 'Megan Bowen <megan@example.com>',
        to: `${google.me.name} <${google.me.email}>`,
        cc: null,
        replyTo: null,
        subject: 'Quarterly report',
        date: 'Mon, 2 Nov 2026 09:15:00 +0000',
        messageId: '<report-1@mail.example.com>',
        inReplyTo: null,
      },
      body: 'The Q3 numbers are attached. Revenue is up 12 € per user.',
      bodyTruncated: false,
      bodyFormat: 'text',
      attachments: [],
      internalDate: '2026-11-02T09:15:00.000Z',
    });

    const html = (await gmail('get_message', { id: invoice?.id })) as Record<string, unknown>;
    expect(html).toMatchObject({
      headers: { subject: 'Your invoice – November', from: 'Billing <billing@shop.example>' },
      body: 'Invoice\nTotal: 42.00 USD\nThanks & regards',
      bodyFormat: 'html-as-text',
      attachments: [
        { filename: 'invoice.pdf', mimeType: 'application/pdf', size: 16, attachmentId: expect.any(String) },
      ],
    });
  });

  it('gmail send_message sends an RFC 2822 message as base64url raw with stored credentials; it then shows in:sent', async () => {
    await rt().tools.credentials.set('gmail', { token: google.token });
    const sent = (await gmail(
      'send_message',
      {
        to: ['megan@example.com', 'alex@example.com'],
        cc: ['boss@example.com'],
        bcc: ['archive@example.com'],
        subject: 'Résumé of the week',
        body: 'Hello team,\nall good: ✓.',
      },
      null,
    )) as { id: string; threadId: string; labelIds: string[] };
    const request = last();
    expect(request).toMatchObject({
      method: 'POST',
      pathname: '/gmail/v1/users/me/messages/send',
      authorization: `Bearer ${google.token}`,
      contentType: expect.stringMatching(/^application\/json/),
    });
    const raw = (request?.body as { raw: string } | undefined)?.raw ?? '';
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    const mime = Buffer.from(raw, 'base64url').toString('utf8');
    expect(mime.split('\r\n\r\n')[0]?.split('\r\n')).toEqual([
      'To: megan@example.com, alex@example.com',
      'Cc: boss@example.com',
      'Bcc: archive@example.com',
      `Subject: =?UTF-8?B?${Buffer.from('Résumé of the week').toString('base64')}?=`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset="UTF-8"',
      'Content-Transfer-Encoding: base64',
    ]);
    const stored = google.gmail.sent.at(-1);
    expect(sent).toEqual({ id: stored?.id, threadId: stored?.id, labelIds: ['SENT'] });

    const found = (await gmail('search_messages', { q: 'in:sent résumé' }, null)) as { messages: Summary[] };
    expect(found.messages).toEqual([
      expect.objectContaining({
        id: sent.id,
        subject: 'Résumé of the week',
        from: `${google.me.name} <${google.me.email}>`,
        snippet: 'Hello team, all good: ✓.',
      }),
    ]);
    const read = (await gmail('get_message', { id: sent.id }, null)) as { body: string; headers: { cc: string } };
    expect(read.body).toBe('Hello team,\nall good: ✓.');
    expect(read.headers.cc).toBe('boss@example.com');
  });

  it('gmail send_message with threadId answers the thread’s last message (In-Reply-To, References), so Gmail threads it', async () => {
    const lunch = google.gmail.messages.find((message) => message.raw.includes('Subject: Lunch on Friday?'));
    const reply = (await gmail('send_message', {
      to: ['alex@example.com'],
      subject: 'Re: Lunch on Friday?',
      body: 'Yes, noon works.',
      threadId: lunch?.threadId,
    })) as { id: string; threadId: string };
    const [threadRequest, sendRequest] = google.requests.slice(-2);
    expect(threadRequest).toMatchObject({
      method: 'GET',
      pathname: `/gmail/v1/users/me/threads/${lunch?.threadId}`,
      query: { format: 'metadata', metadataHeaders: ['Message-ID', 'References'] },
    });
    expect(sendRequest?.body).toMatchObject({ threadId: lunch?.threadId });
    const mime = Buffer.from((sendRequest?.body as { raw: string } | undefined)?.raw ?? '', 'base64url').toString(
      'utf8',
    );
    expect(mime).toContain('\r\nIn-Reply-To: <lunch-1@mail.example.com>\r\n');
    expect(mime).toContain('\r\nReferences: <lunch-1@mail.example.com>\r\n');
    expect(reply.threadId).toBe(lunch?.threadId);
    const read = (await gmail('get_message', { id: reply.id })) as { headers: { inReplyTo: string } };
    expect(read.headers.inReplyTo).toBe('<lunch-1@mail.example.com>');
  });

  it('gmail list_labels returns system and user labels with their ids', async () => {
    const { labels } = (await gmail('list_labels', {})) as { labels: { id: string; name: string; type: string }[] };
    expect(last()).toMatchObject({ method: 'GET', pathname: '/gmail/v1/users/me/labels', query: {} });
    expect(labels).toContainEqual({ id: 'INBOX', name: 'INBOX', type: 'system' });
    expect(labels).toContainEqual({ id: 'Label_1', name: 'Receipts', type: 'user' });
    const receipts = (await gmail('search_messages', { q: 'label:receipts' })) as { messages: Summary[] };
    expect(receipts.messages.map((message) => message.subject)).toEqual(['Your invoice – November']);
  });

  it('google-calendar list_events reads a window of the primary calendar in start order and pages by nextPageToken', async () => {
    type Page = {
      events: { id: string; summary: string; start: Record<string, unknown>; allDay: boolean; attendees: unknown[] }[];
      timeZone: string;
      nextPageToken: string | null;
    };
    const window = { timeMin: '2026-11-03T00:00:00Z', timeMax: '2026-11-07T00:00:00Z' };
    const first: Page = await calendar('list_events', { ...window, maxResults: 2 });
    expect(last()).toMatchObject({
      method: 'GET',
      pathname: '/calendar/v3/calendars/primary/events',
      authorization: `Bearer ${google.token}`,
      query: { ...window, maxResults: '2', singleEvents: 'true', orderBy: 'startTime' },
    });
    expect(first.timeZone).toBe('Europe/Paris');
    expect(first.events.map((event) => event.summary)).toEqual(['Team standup', '1:1 with Megan']);
    expect(first.events[0]?.start).toEqual({
      dateTime: '2026-11-03T09:00:00+01:00',
      date: null,
      timeZone: 'Europe/Paris',
    });
    expect(first.events[1]).toMatchObject({
      attendees: [{ email: 'megan@example.com', responseStatus: 'accepted', optional: false }],
    });
    const second: Page = await calendar('list_events', { ...window, maxResults: 2, pageToken: first.nextPageToken });
    expect(last()?.query.pageToken).toBe(first.nextPageToken);
    expect(second.events).toEqual([
      expect.objectContaining({
        summary: 'Offsite',
        allDay: true,
        start: { date: '2026-11-05', dateTime: null, timeZone: null },
      }),
    ]);
    expect(second.nextPageToken).toBeNull();

    const searched: Page = await calendar('list_events', { q: 'roadmap' });
    expect(last()?.query.q).toBe('roadmap');
    expect(searched.events.map((event) => event.summary)).toEqual(['1:1 with Megan']);
  });

  it('google-calendar create_event, update_event (a patch) and delete_event change the calendar as list_events then shows', async () => {
    await rt().tools.credentials.set('google-calendar', { token: google.token });
    const created = (await calendar(
      'create_event',
      {
        summary: 'Design review',
        start: '2026-11-04T10:00:00',
        end: '2026-11-04T11:00:00',
        timeZone: 'America/New_York',
        attendees: ['megan@example.com'],
        location: 'Room 4',
        sendUpdates: 'all',
      },
      null,
    )) as { id: string };
    expect(last()).toMatchObject({
      method: 'POST',
      pathname: '/calendar/v3/calendars/primary/events',
      query: { sendUpdates: 'all' },
      body: {
        summary: 'Design review',
        location: 'Room 4',
        start: { dateTime: '2026-11-04T10:00:00', timeZone: 'America/New_York' },
        end: { dateTime: '2026-11-04T11:00:00', timeZone: 'America/New_York' },
        attendees: [{ email: 'megan@example.com' }],
      },
    });
    expect(created).toMatchObject({
      id: expect.stringMatching(/^[a-v0-9]+$/),
      status: 'confirmed',
      summary: 'Design review',
      start: { dateTime: '2026-11-04T10:00:00-05:00', timeZone: 'America/New_York' },
      organizer: google.me.email,
      attendees: [{ email: 'megan@example.com', responseStatus: 'needsAction' }],
      htmlLink: expect.stringContaining('https://www.google.com/calendar/event?eid='),
    });

    const updated = await calendar('update_event', {
      eventId: created.id,
      summary: 'Design review (v2)',
      start: '2026-11-04',
      end: '2026-11-05',
    });
    expect(last()).toMatchObject({
      method: 'PATCH',
      pathname: `/calendar/v3/calendars/primary/events/${created.id}`,
      query: { sendUpdates: 'none' },
      body: {
        summary: 'Design review (v2)',
        start: { date: '2026-11-04', dateTime: null },
        end: { date: '2026-11-05', dateTime: null },
      },
    });
    // What the patch did not name stays: location and attendees.
    expect(updated).toMatchObject({
      id: created.id,
      summary: 'Design review (v2)',
      allDay: true,
      location: 'Room 4',
      start: { date: '2026-11-04', dateTime: null },
      attendees: [{ email: 'megan@example.com' }],
    });
    const day = { timeMin: '2026-11-04T00:00:00+01:00', timeMax: '2026-11-05T00:00:00+01:00' };
    const listed = (await calendar('list_events', day)) as { events: { id: string; summary: string }[] };
    expect(listed.events.map((event) => [event.id, event.summary])).toEqual([[created.id, 'Design review (v2)']]);

    const deleted = await calendar('delete_event', { eventId: created.id });
    expect(last()).toMatchObject({ method: 'DELETE', pathname: `/calendar/v3/calendars/primary/events/${created.id}` });
    expect(deleted).toEqual({ deleted: true, calendarId: 'primary', eventId: created.id });
    expect(((await calendar('list_events', day)) as { events: unknown[] }).events).toEqual([]);
    // Google answers a second delete with 410 Gone, which is no missing credential nor missing event.
    const again = await failureOf(calendar('delete_event', { eventId: created.id }));
    expect(again).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 410 } });
    expect(again.message).toContain('Resource has been deleted');

    // A local time without a zone is Google's to refuse, and its message says why.
    const zoneless = await failureOf(
      calendar('create_event', { summary: 'x', start: '2026-11-04T10:00:00', end: '2026-11-04T11:00:00' }),
    );
    expect(zoneless).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 400 } });
    expect(zoneless.message).toContain('Missing time zone definition for start time.');
  });

  it('google-calendar free_busy posts the calendars and window and returns merged busy times, and notFound per calendar', async () => {
    const result = await calendar('free_busy', {
      timeMin: '2026-11-03T00:00:00Z',
      timeMax: '2026-11-04T00:00:00Z',
      calendarIds: ['primary', 'megan@example.com', 'nobody@example.com'],
    });
    expect(last()).toMatchObject({
      method: 'POST',
      pathname: '/calendar/v3/freeBusy',
      body: {
        timeMin: '2026-11-03T00:00:00Z',
        timeMax: '2026-11-04T00:00:00Z',
        items: [{ id: 'primary' }, { id: 'megan@example.com' }, { id: 'nobody@example.com' }],
      },
    });
    expect(result).toEqual({
      timeMin: '2026-11-03T00:00:00.000Z',
      timeMax: '2026-11-04T00:00:00.000Z',
      calendars: [
        {
          id: 'primary',
          busy: [
            { start: '2026-11-03T08:00:00Z', end: '2026-11-03T08:15:00Z' },
            { start: '2026-11-03T13:00:00Z', end: '2026-11-03T13:30:00Z' },
          ],
          errors: [],
        },
        { id: 'megan@example.com', busy: [{ start: '2026-11-03T10:00:00Z', end: '2026-11-03T12:00:00Z' }], errors: [] },
        { id: 'nobody@example.com', busy: [], errors: ['notFound'] },
      ],
    });
    const paris = (await calendar('free_busy', {
      timeMin: '2026-11-03T00:00:00Z',
      timeMax: '2026-11-04T00:00:00Z',
      timeZone: 'Europe/Paris',
    })) as { calendars: { id: string; busy: { start: string }[] }[] };
    expect(last()?.body).toMatchObject({ timeZone: 'Europe/Paris', items: [{ id: 'primary' }] });
    expect(paris.calendars[0]?.busy[0]?.start).toBe('2026-11-03T09:00:00+01:00');
  });

  it('google-sheets get_values reads an A1 range (percent-encoded in the path) formatted, unformatted or by columns', async () => {
    const formatted = await sheets('get_values', { spreadsheetId: budget, range: 'Expenses!A1:C10' });
    expect(last()).toMatchObject({
      method: 'GET',
      pathname: `/v4/spreadsheets/${budget}/values/Expenses%21A1%3AC10`,
      authorization: `Bearer ${google.token}`,
      query: { valueRenderOption: 'FORMATTED_VALUE', majorDimension: 'ROWS' },
    });
    expect(formatted).toEqual({
      range: 'Expenses!A1:C10',
      majorDimension: 'ROWS',
      values: [
        ['Date', 'Item', 'Amount'],
        ['2026-11-01', 'Laptop', '1200'],
        ['2026-11-02', 'Coffee', '4.5'],
      ],
    });
    const columns = await sheets('get_values', {
      spreadsheetId: budget,
      range: 'C2:C3',
      valueRenderOption: 'UNFORMATTED_VALUE',
      majorDimension: 'COLUMNS',
    });
    expect(columns).toEqual({ range: 'Expenses!C2:C3', majorDimension: 'COLUMNS', values: [[1200, 4.5]] });
    const empty = await sheets('get_values', { spreadsheetId: budget, range: "'Summary Q4'!A1:B2" });
    expect(last()?.pathname).toBe(`/v4/spreadsheets/${budget}/values/%27Summary%20Q4%27%21A1%3AB2`);
    expect(empty).toEqual({ range: "'Summary Q4'!A1:B2", majorDimension: 'ROWS', values: [] });
  });

  it('google-sheets update_values writes with valueInputOption (USER_ENTERED parses, RAW keeps strings)', async () => {
    await rt().tools.credentials.set('google-sheets', { token: google.token });
    const entered = await sheets(
      'update_values',
      {
        spreadsheetId: budget,
        range: "'Summary Q4'!A1:B3",
        values: [
          ['Total', '=SUM(C2:C3)'],
          ['Count', '2'],
          ['Done', true],
        ],
      },
      null,
    );
    expect(last()).toMatchObject({
      method: 'PUT',
      pathname: `/v4/spreadsheets/${budget}/values/%27Summary%20Q4%27%21A1%3AB3`,
      query: { valueInputOption: 'USER_ENTERED' },
      body: {
        majorDimension: 'ROWS',
        values: [
          ['Total', '=SUM(C2:C3)'],
          ['Count', '2'],
          ['Done', true],
        ],
      },
    });
    expect(entered).toEqual({
      spreadsheetId: budget,
      updatedRange: "'Summary Q4'!A1:B3",
      updatedRows: 3,
      updatedColumns: 2,
      updatedCells: 6,
    });
    const read = await sheets(
      'get_values',
      { spreadsheetId: budget, range: "'Summary Q4'!A1:B3", valueRenderOption: 'FORMULA' },
      null,
    );
    expect(read).toMatchObject({
      values: [
        ['Total', '=SUM(C2:C3)'],
        ['Count', 2],
        ['Done', true],
      ],
    });

    await sheets(
      'update_values',
      { spreadsheetId: budget, range: "'Summary Q4'!D1", values: [['=1+1', '007']], valueInputOption: 'RAW' },
      null,
    );
    expect(last()?.query).toEqual({ valueInputOption: 'RAW' });
    const raw = await sheets(
      'get_values',
      { spreadsheetId: budget, range: "'Summary Q4'!D1:E1", valueRenderOption: 'UNFORMATTED_VALUE' },
      null,
    );
    expect(raw).toMatchObject({ values: [['=1+1', '007']] });
  });

  it('google-sheets append_values adds rows below the table (…:append with INSERT_ROWS) and says where', async () => {
    const appended = await sheets('append_values', {
      spreadsheetId: budget,
      range: 'Expenses!A:C',
      values: [
        ['2026-11-03', 'Train', '58.2'],
        ['2026-11-04', 'Hotel', 140],
      ],
    });
    expect(last()).toMatchObject({
      method: 'POST',
      pathname: `/v4/spreadsheets/${budget}/values/Expenses%21A%3AC:append`,
      query: { valueInputOption: 'USER_ENTERED', insertDataOption: 'INSERT_ROWS' },
    });
    expect(appended).toEqual({
      spreadsheetId: budget,
      tableRange: 'Expenses!A1:C3',
      updatedRange: 'Expenses!A4:C5',
      updatedRows: 2,
      updatedColumns: 3,
      updatedCells: 6,
    });
    expect(google.sheets.formatted(budget, 'Expenses').slice(3)).toEqual([
      ['2026-11-03', 'Train', '58.2'],
      ['2026-11-04', 'Hotel', '140'],
    ]);
  });

  it('google-sheets create_spreadsheet creates the named sheets; values can then be written into it', async () => {
    const created = (await sheets('create_spreadsheet', {
      title: 'Team roster',
      sheetTitles: ['People', "Ann's notes"],
    })) as {
      spreadsheetId: string;
      sheets: unknown[];
    };
    expect(last()).toMatchObject({
      method: 'POST',
      pathname: '/v4/spreadsheets',
      query: {},
      body: {
        properties: { title: 'Team roster' },
        sheets: [{ properties: { title: 'People' } }, { properties: { title: "Ann's notes" } }],
      },
    });
    expect(created).toEqual({
      spreadsheetId: expect.stringMatching(/^[A-Za-z0-9_-]{44}$/),
      title: 'Team roster',
      url: `https://docs.google.com/spreadsheets/d/${created.spreadsheetId}/edit`,
      sheets: [
        { sheetId: 0, title: 'People', index: 0, rowCount: 1000, columnCount: 26 },
        { sheetId: expect.any(Number), title: "Ann's notes", index: 1, rowCount: 1000, columnCount: 26 },
      ],
    });
    await sheets('update_values', {
      spreadsheetId: created.spreadsheetId,
      range: "'Ann''s notes'!A1",
      values: [['hello']],
    });
    expect(google.sheets.formatted(created.spreadsheetId, "Ann's notes")).toEqual([['hello']]);
    const single = (await sheets('create_spreadsheet', { title: 'Scratch' })) as { sheets: { title: string }[] };
    expect(last()?.body).toEqual({ properties: { title: 'Scratch' } });
    expect(single.sheets.map((sheet) => sheet.title)).toEqual(['Sheet1']);
  });

  it('maps Google’s refusals: 401 (its message), 403 rate limit, 429 Retry-After, 404, 5xx, 400 — with no retries', async () => {
    for (const [call, message] of [
      [() => gmail('list_labels', {}, 'ya29.revoked'), 'Request had invalid authentication credentials.'],
      [() => calendar('list_events', {}, 'ya29.revoked'), 'Invalid Credentials'],
      [
        () => sheets('get_values', { spreadsheetId: budget, range: 'A1' }, 'ya29.revoked'),
        'Request had invalid authentication credentials.',
      ],
    ] as const) {
      const failure = await failureOf(call());
      expect(failure).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 401 } });
      expect(failure.message).toContain(message);
      expect(last()?.authorization).toBe('Bearer ya29.revoked');
    }

    let before = google.requests.length;
    google.fail(
      '/gmail/v1/users/me/messages',
      429,
      {
        error: {
          code: 429,
          message: 'User-rate limit exceeded.  Retry after 2026-11-03T10:00:30.000Z',
          errors: [{ message: 'User-rate limit exceeded.', domain: 'usageLimits', reason: 'rateLimitExceeded' }],
          status: 'RESOURCE_EXHAUSTED',
        },
      },
      { 'retry-after': '30' },
    );
    const limited = await failureOf(gmail('search_messages', {}));
    expect(limited).toMatchObject({
      code: 'tool_rate_limited',
      details: { upstreamStatus: 429, retryAfterSeconds: 30 },
    });
    expect(limited.message).toContain('User-rate limit exceeded.');
    expect(google.requests.length - before).toBe(1);

    google.fail('/calendar/v3/calendars/primary/events', 403, {
      error: {
        errors: [{ domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' }],
        code: 403,
        message: 'Rate Limit Exceeded',
      },
    });
    const calendarLimit = await failureOf(calendar('list_events', {}));
    expect(calendarLimit).toMatchObject({
      code: 'tool_rate_limited',
      details: { upstreamStatus: 403, retryAfterSeconds: null },
    });
    expect(calendarLimit.message).toContain('Rate Limit Exceeded');

    google.fail('/calendar/v3/calendars/primary/events', 403, {
      error: {
        errors: [{ domain: 'global', reason: 'insufficientPermissions', message: 'Insufficient Permission' }],
        code: 403,
        message: 'Request had insufficient authentication scopes.',
      },
    });
    const scopes = await failureOf(calendar('list_events', {}));
    expect(scopes).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(scopes.message).toContain('Request had insufficient authentication scopes.');

    const missing = await failureOf(gmail('get_message', { id: '18c0ffee00000000' }));
    expect(missing).toMatchObject({ code: 'tool_not_found', details: { upstreamStatus: 404 } });
    expect(missing.message).toContain('Requested entity was not found.');
    const missingEvent = await failureOf(calendar('update_event', { eventId: 'nosuchevent', summary: 'x' }));
    expect(missingEvent).toMatchObject({ code: 'tool_not_found' });
    expect(missingEvent.message).toContain('Not Found');
    const missingSheet = await failureOf(sheets('get_values', { spreadsheetId: 'nosuchsheet', range: 'A1' }));
    expect(missingSheet).toMatchObject({ code: 'tool_not_found', details: { upstreamStatus: 404 } });

    before = google.requests.length;
    google.fail(`/v4/spreadsheets/${budget}/values/Expenses%21A1`, 503, {
      error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
    });
    const down = await failureOf(sheets('get_values', { spreadsheetId: budget, range: 'Expenses!A1' }));
    expect(down).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 503 } });
    expect(down.message).toContain('The service is currently unavailable. (UNAVAILABLE)');
    expect(google.requests.length - before).toBe(1);

    const badRange = await failureOf(sheets('get_values', { spreadsheetId: budget, range: 'Nowhere!A1' }));
    expect(badRange).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 400 } });
    expect(badRange.message).toContain('Unable to parse range: Nowhere!A1');

    const records = await rt().tools.executions({ tool: 'gmail' });
    expect(JSON.stringify(records)).not.toContain(google.token);
  });

  it('refuses params off the actions’ schemas with tool_params_invalid before any request reaches Google', async () => {
    const before = google.requests.length;
    for (const [call, field] of [
      [() => gmail('search_messages', { maxResults: 101 }), 'maxResults'],
      [() => gmail('search_messages', { query: 'x' }), 'query'],
      [() => gmail('get_message', { id: '../labels' }), 'id'],
      [() => gmail('send_message', { to: ['not an address'], subject: 's', body: 'b' }), 'to'],
      [
        () => gmail('send_message', { to: ['a@example.com'], subject: 'two\r\nBcc: x@example.com', body: 'b' }),
        'subject',
      ],
      [() => calendar('list_events', { timeMin: '2026-11-03' }), 'timeMin'],
      [() => calendar('create_event', { summary: 's', start: 'tomorrow', end: '2026-11-04' }), 'start'],
      [() => calendar('update_event', { summary: 'no id' }), 'eventId'],
      [() => calendar('delete_event', { eventId: 'e', sendUpdates: 'everyone' }), 'sendUpdates'],
      [() => calendar('free_busy', { timeMin: '2026-11-03T00:00:00Z' }), 'timeMax'],
      [() => sheets('get_values', { spreadsheetId: budget }), 'range'],
      [() => sheets('update_values', { spreadsheetId: budget, range: 'A1', values: [[{ a: 1 }]] }), 'values'],
      [
        () =>
          sheets('append_values', { spreadsheetId: budget, range: 'A1', values: [['x']], insertDataOption: 'APPEND' }),
        'insertDataOption',
      ],
      [() => sheets('create_spreadsheet', { title: 'x', sheetTitles: ['a/b'] }), 'sheetTitles'],
    ] as const) {
      const failure = await failureOf(call());
      expect(failure, field).toMatchObject({ code: 'tool_params_invalid', status: 400 });
      expect(JSON.stringify(failure.details), field).toContain(field);
    }
    expect(google.requests.length).toBe(before);
  });

  it('an agent calls every action of the three tools through the tool service and gets their results', async () => {
    await addMockProvider(rt(), model);
    for (const tool of ['gmail', 'google-calendar', 'google-sheets']) {
      await rt().tools.credentials.set(tool, { token: google.token });
    }
    await rt().agents.create({
      slug: 'assistant',
      model: 'mock/m',
      tools: ['gmail', 'google-calendar', 'google-sheets'],
    });
    const report = google.gmail.messages[0]?.id;
    const standup = google.calendar.events(google.me.email).find((event) => event.summary === 'Team standup')?.id;
    const offsite = google.calendar.events(google.me.email).find((event) => event.summary === 'Offsite')?.id;
    model.script([
      {
        toolCalls: [
          { id: 'g1', name: 'gmail_search_messages', input: { q: 'is:unread', maxResults: 5 } },
          { id: 'g2', name: 'gmail_get_message', input: { id: report } },
          {
            id: 'g3',
            name: 'gmail_send_message',
            input: { to: ['megan@example.com'], subject: 'Agenda', body: 'Attached.' },
          },
          { id: 'g4', name: 'gmail_list_labels', input: {} },
          {
            id: 'c1',
            name: 'google_calendar_list_events',
            input: { timeMin: '2026-11-03T00:00:00Z', timeMax: '2026-11-04T00:00:00Z' },
          },
          {
            id: 'c2',
            name: 'google_calendar_create_event',
            input: { summary: 'Planning', start: '2026-11-06T14:00:00Z', end: '2026-11-06T15:00:00Z' },
          },
          { id: 'c3', name: 'google_calendar_update_event', input: { eventId: standup, location: 'Room 1' } },
          { id: 'c4', name: 'google_calendar_delete_event', input: { eventId: offsite } },
          { id: 's1', name: 'google_sheets_get_values', input: { spreadsheetId: budget, range: 'Expenses!A1:C2' } },
          {
            id: 's2',
            name: 'google_sheets_update_values',
            input: { spreadsheetId: budget, range: "'Summary Q4'!F1", values: [['agent']] },
          },
          {
            id: 's3',
            name: 'google_sheets_append_values',
            input: { spreadsheetId: budget, range: 'Expenses!A:C', values: [['2026-11-05', 'Taxi', 20]] },
          },
          { id: 's4', name: 'google_sheets_create_spreadsheet', input: { title: 'Agent notes' } },
        ],
      },
      // A step of its own: the calls of one step run at once, and free/busy must see the event c2 created.
      {
        toolCalls: [
          {
            id: 'c5',
            name: 'google_calendar_free_busy',
            input: { timeMin: '2026-11-06T00:00:00Z', timeMax: '2026-11-07T00:00:00Z' },
          },
        ],
      },
      { text: 'Done.' },
    ]);
    const { events, offered, results } = await runAgentToEnd(rt(), model, 'assistant', 'Plan my week.');
    expect(offered).toEqual(
      expect.arrayContaining([
        'gmail_search_messages',
        'gmail_get_message',
        'gmail_send_message',
        'gmail_list_labels',
        'google_calendar_list_events',
        'google_calendar_create_event',
        'google_calendar_update_event',
        'google_calendar_delete_event',
        'google_calendar_free_busy',
        'google_sheets_get_values',
        'google_sheets_update_values',
        'google_sheets_append_values',
        'google_sheets_create_spreadsheet',
      ]),
    );
    expect(Object.keys(results).sort()).toEqual(
      ['c1', 'c2', 'c3', 'c4', 'c5', 'g1', 'g2', 'g3', 'g4', 's1', 's2', 's3', 's4'].sort(),
    );
    expect(results.g1).toMatchObject({ isError: false, output: { messages: [{ subject: 'Quarterly report' }] } });
    expect(results.g2).toMatchObject({
      isError: false,
      output: { id: report, headers: { subject: 'Quarterly report' } },
    });
    expect(results.g3).toMatchObject({ isError: false, output: { labelIds: ['SENT'] } });
    expect(results.g4).toMatchObject({
      isError: false,
      output: { labels: expect.arrayContaining([{ id: 'Label_2', name: 'Work', type: 'user' }]) },
    });
    expect(results.c1).toMatchObject({
      isError: false,
      output: { events: [{ summary: 'Team standup' }, { summary: '1:1 with Megan' }], nextPageToken: null },
    });
    expect(results.c2).toMatchObject({
      isError: false,
      output: { summary: 'Planning', start: { dateTime: '2026-11-06T15:00:00+01:00' } },
    });
    expect(results.c3).toMatchObject({
      isError: false,
      output: { id: standup, summary: 'Team standup', location: 'Room 1' },
    });
    expect(results.c4).toMatchObject({ isError: false, output: { deleted: true, eventId: offsite } });
    expect(results.c5).toMatchObject({
      isError: false,
      output: {
        calendars: [{ id: 'primary', busy: [{ start: '2026-11-06T14:00:00Z', end: '2026-11-06T15:00:00Z' }] }],
      },
    });
    expect(results.s1).toMatchObject({
      isError: false,
      output: {
        values: [
          ['Date', 'Item', 'Amount'],
          ['2026-11-01', 'Laptop', '1200'],
        ],
      },
    });
    expect(results.s2).toMatchObject({ isError: false, output: { updatedRange: "'Summary Q4'!F1", updatedCells: 1 } });
    expect(results.s3).toMatchObject({ isError: false, output: { updatedRange: 'Expenses!A6:C6' } });
    expect(results.s4).toMatchObject({
      isError: false,
      output: { title: 'Agent notes', sheets: [{ title: 'Sheet1' }] },
    });
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    expect(google.gmail.sent.at(-1)?.raw).toContain('Subject: Agenda');
  });
});
