import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMockProvider, type CallFailure, failureOf, runAgentToEnd } from '../../../../../test/support/agent-runs.js';
import { type GraphServer, startGraphServer } from '../../../../../test/support/fakes/microsoft-graph.js';
import { startTelegramServer, type TelegramServer } from '../../../../../test/support/fakes/telegram.js';
import { type ModelServer, startModelServer } from '../../../../../test/support/model-server.js';
import { useSandboxServer } from '../../../../../test/support/server.js';

/** A 2x1 PNG: Telegram reads a photo's size from its bytes. */
const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR42mP8z8DwnwEIGGEAAB0AA/9mBAXYAAAAAElFTkSuQmCC',
  'base64',
);

describe('marketplace: outlook (Microsoft Graph) and telegram (Bot API), against fakes of both services', () => {
  let graph: GraphServer;
  let telegram: TelegramServer;
  let model: ModelServer;
  // Where a photo URL points: Telegram downloads it itself.
  let photoHost: Server;
  let photoUrl: string;
  const fixture = useSandboxServer(async () => {
    graph = await startGraphServer();
    telegram = await startTelegramServer();
    model = await startModelServer();
    photoHost = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.end(png);
    });
    await new Promise<void>((resolve) => photoHost.listen(0, '127.0.0.1', resolve));
    photoUrl = `http://127.0.0.1:${(photoHost.address() as AddressInfo).port}/cat.png`;
    return { RUNTOOLS_TOOL_OUTLOOK_BASE_URL: graph.url, RUNTOOLS_TOOL_TELEGRAM_BASE_URL: telegram.url };
  });
  const rt = () => fixture.rt;
  const outlook = (action: string, params: Record<string, unknown>, token: string | null = graph.token) =>
    rt().tools.execute('outlook', { action, params, ...(token !== null ? { credentials: { token } } : {}) });
  const bot = (action: string, params: Record<string, unknown>, botToken: string | null = telegram.token) =>
    rt().tools.execute('telegram', { action, params, ...(botToken !== null ? { credentials: { botToken } } : {}) });

  beforeAll(async () => {
    await rt().tools.install('outlook');
    await rt().tools.install('telegram');
  });
  afterAll(async () => {
    await graph?.close();
    await telegram?.close();
    await model?.close();
    await new Promise((resolve) => photoHost?.close(resolve));
  });

  it('lists both in the marketplace: outlook with Microsoft OAuth and its scopes, telegram with a bot token', async () => {
    const tools = await rt().tools.marketplace();
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(byName.outlook).toMatchObject({
      provider: 'Microsoft',
      auth: {
        kind: 'oauth',
        provider: 'microsoft',
        scopes: ['offline_access', 'User.Read', 'Mail.Read', 'Mail.Send', 'Calendars.ReadWrite'],
      },
      installed: true,
    });
    expect(byName.outlook?.actions.map((action) => action.name).sort()).toEqual([
      'create_event',
      'list_events',
      'list_messages',
      'send_mail',
    ]);
    expect(byName.telegram).toMatchObject({ provider: 'Telegram', auth: { kind: 'api_key' }, installed: true });
    expect(byName.telegram?.actions.map((action) => action.name).sort()).toEqual([
      'get_updates',
      'send_message',
      'send_photo',
    ]);
  });

  it('outlook list_messages reads the inbox newest first with $select and $top, and follows @odata.nextLink', async () => {
    const first = await outlook('list_messages', { top: 2 });
    const request = graph.requests.at(-1);
    expect(request).toMatchObject({
      method: 'GET',
      pathname: '/v1.0/me/mailFolders/inbox/messages',
      authorization: `Bearer ${graph.token}`,
      query: {
        $top: '2',
        $select: 'id,subject,from,toRecipients,receivedDateTime,isRead,bodyPreview,webLink',
      },
    });
    const page = first.result as {
      messages: { id: string; subject: string; bodyPreview: string }[];
      next: string | null;
    };
    expect(page.messages.map((message) => message.subject)).toEqual(['Quarterly report', 'Lunch on Friday?']);
    expect(page.messages[0]).toMatchObject({
      id: expect.stringMatching(/^AAMk/),
      from: { name: 'Megan Bowen', address: 'megan@contoso.com' },
      to: [{ address: graph.me.address }],
      receivedDateTime: '2026-11-02T09:15:00Z',
      isRead: false,
      bodyPreview: 'The Q3 numbers are attached. Revenue is up.',
      webLink: expect.stringContaining('outlook.office365.com'),
    });
    expect(page.next).toMatch(new RegExp(`^${graph.url}/v1.0/me/mailFolders/inbox/messages\\?`));

    const second = (await outlook('list_messages', { next: page.next })).result as typeof page;
    expect(graph.requests.at(-1)?.query).toMatchObject({ $skip: '2', $top: '2' });
    expect(second.messages.map((message) => message.subject)).toEqual(['Welcome to Contoso']);
    expect(second.messages[0]?.bodyPreview).toBe('Your account is ready.');
    expect(second.next).toBeNull();
  });

  it('outlook list_messages sends $filter as given and $search in double quotes, and refuses both together', async () => {
    const unread = (await outlook('list_messages', { filter: 'isRead eq false' })).result as {
      messages: { subject: string }[];
    };
    expect(graph.requests.at(-1)?.query.$filter).toBe('isRead eq false');
    expect(unread.messages.map((message) => message.subject)).toEqual(['Quarterly report', 'Welcome to Contoso']);

    const found = (await outlook('list_messages', { search: 'pizza' })).result as { messages: { subject: string }[] };
    expect(graph.requests.at(-1)?.query.$search).toBe('"pizza"');
    expect(found.messages.map((message) => message.subject)).toEqual(['Lunch on Friday?']);

    const before = graph.requests.length;
    expect(await failureOf(outlook('list_messages', { search: 'pizza', filter: 'isRead eq true' }))).toMatchObject({
      code: 'tool_params_invalid',
    });
    expect(graph.requests.length).toBe(before);
  });

  it('outlook send_mail posts Graph’s message with stored credentials; the mail then shows in sentitems', async () => {
    await rt().tools.credentials.set('outlook', { token: graph.token });
    const { result } = await outlook(
      'send_mail',
      {
        to: ['megan@contoso.com'],
        cc: ['alex@contoso.com'],
        subject: 'Re: Quarterly report',
        body: '<p>Thanks, looks <b>good</b>.</p>',
        contentType: 'html',
      },
      null,
    );
    expect(result).toEqual({
      accepted: true,
      to: ['megan@contoso.com'],
      cc: ['alex@contoso.com'],
      subject: 'Re: Quarterly report',
      savedToSentItems: true,
    });
    expect(graph.requests.at(-1)).toMatchObject({
      method: 'POST',
      pathname: '/v1.0/me/sendMail',
      authorization: `Bearer ${graph.token}`,
      contentType: 'application/json',
      body: {
        message: {
          subject: 'Re: Quarterly report',
          body: { contentType: 'HTML', content: '<p>Thanks, looks <b>good</b>.</p>' },
          toRecipients: [{ emailAddress: { address: 'megan@contoso.com' } }],
          ccRecipients: [{ emailAddress: { address: 'alex@contoso.com' } }],
        },
        saveToSentItems: true,
      },
    });
    const sentItems = (await outlook('list_messages', { folder: 'sentitems' }, null)).result as {
      messages: { subject: string; from: unknown; bodyPreview: string }[];
    };
    expect(sentItems.messages).toEqual([
      expect.objectContaining({
        subject: 'Re: Quarterly report',
        from: { name: graph.me.name, address: graph.me.address },
        bodyPreview: 'Thanks, looks good.',
      }),
    ]);

    await outlook('send_mail', { to: ['it@contoso.com'], subject: 'No copy', body: 'x', saveToSentItems: false }, null);
    expect(graph.sent.at(-1)).toMatchObject({
      saveToSentItems: false,
      message: { body: { contentType: 'Text', content: 'x' } },
    });
    const after = (await outlook('list_messages', { folder: 'sentitems' }, null)).result as { messages: unknown[] };
    expect(after.messages).toHaveLength(1);
  });

  it('outlook create_event posts dateTimeTimeZone times; list_events finds it in calendarView by window, paged by $skiptoken', async () => {
    const { result: created } = await outlook('create_event', {
      subject: 'Design review',
      start: '2026-11-03T10:00:00',
      end: '2026-11-03T11:00:00',
      timeZone: 'Europe/Paris',
      attendees: ['megan@contoso.com'],
      body: 'Bring the mockups.',
      location: 'Room 4',
    });
    expect(graph.requests.at(-1)).toMatchObject({
      method: 'POST',
      pathname: '/v1.0/me/events',
      prefer: 'outlook.timezone="Europe/Paris"',
      body: {
        subject: 'Design review',
        start: { dateTime: '2026-11-03T10:00:00', timeZone: 'Europe/Paris' },
        end: { dateTime: '2026-11-03T11:00:00', timeZone: 'Europe/Paris' },
        body: { contentType: 'Text', content: 'Bring the mockups.' },
        location: { displayName: 'Room 4' },
        attendees: [{ emailAddress: { address: 'megan@contoso.com' }, type: 'required' }],
      },
    });
    expect(created).toMatchObject({
      id: expect.stringMatching(/^AAMk/),
      subject: 'Design review',
      start: { dateTime: '2026-11-03T10:00:00.0000000', timeZone: 'Europe/Paris' },
      end: { dateTime: '2026-11-03T11:00:00.0000000', timeZone: 'Europe/Paris' },
      location: 'Room 4',
      organizer: { address: graph.me.address },
      attendees: [{ address: 'megan@contoso.com', type: 'required', response: 'none' }],
      bodyPreview: 'Bring the mockups.',
    });
    const createdId = (created as { id: string }).id;

    // 10:00 in Paris on 3 November is 09:00 UTC: after the 09:00-09:15 UTC standup, ordered by start.
    const window = { startDateTime: '2026-11-03T00:00:00Z', endDateTime: '2026-11-04T00:00:00Z' };
    const first = (await outlook('list_events', { ...window, top: 1 })).result as {
      events: { id: string; subject: string; start: { dateTime: string; timeZone: string } }[];
      next: string | null;
    };
    expect(graph.requests.at(-1)).toMatchObject({
      pathname: '/v1.0/me/calendarView',
      query: { ...window, $top: '1', $orderby: 'start/dateTime' },
    });
    expect(first.events.map((event) => event.subject)).toEqual(['Team standup']);
    expect(first.next).toContain('%24skiptoken=');
    const second = (await outlook('list_events', { next: first.next })).result as typeof first;
    expect(second.events).toEqual([
      expect.objectContaining({
        id: createdId,
        start: { dateTime: '2026-11-03T09:00:00.0000000', timeZone: 'UTC' },
      }),
    ]);
    expect(second.next).toBeNull();

    const elsewhere = (
      await outlook('list_events', { startDateTime: '2026-12-01T00:00:00Z', endDateTime: '2026-12-02T00:00:00Z' })
    ).result as typeof first;
    expect(elsewhere.events).toEqual([]);

    const all = (await outlook('list_events', { timeZone: 'Pacific Standard Time' })).result as typeof first;
    expect(graph.requests.at(-1)).toMatchObject({
      pathname: '/v1.0/me/events',
      prefer: 'outlook.timezone="Pacific Standard Time"',
    });
    expect(all.events.map((event) => [event.subject, event.start])).toEqual([
      ['Team standup', { dateTime: '2026-11-03T01:00:00.0000000', timeZone: 'Pacific Standard Time' }],
      ['Design review', { dateTime: '2026-11-03T01:00:00.0000000', timeZone: 'Pacific Standard Time' }],
    ]);
    expect(all.next).toBeNull();
  });

  it("maps Graph's refusals: 401, 403, 404, 429 with Retry-After, 5xx, each with Graph's message", async () => {
    const unauthorized = await failureOf(outlook('list_messages', {}, 'not-a-jwt'));
    expect(unauthorized).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 401 } });
    expect(unauthorized.message).toContain('JWT is not well formed');
    expect(unauthorized.message).toContain('InvalidAuthenticationToken');

    graph.fail('/v1.0/me/sendMail', 403, {
      error: { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' },
    });
    const forbidden = await failureOf(outlook('send_mail', { to: ['a@b.co'], subject: 's', body: 'b' }));
    expect(forbidden).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(forbidden.message).toContain('Access is denied');

    const missing = await failureOf(outlook('list_messages', { folder: 'nosuchfolder' }));
    expect(missing).toMatchObject({ code: 'tool_not_found', details: { upstreamStatus: 404 } });
    expect(missing.message).toContain('The specified object was not found in the store.');

    graph.fail(
      '/v1.0/me/events',
      429,
      { error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' } },
      { 'Retry-After': '7' },
    );
    const eventsRequests = () => graph.requests.filter((request) => request.pathname === '/v1.0/me/events').length;
    const beforeLimited = eventsRequests();
    const limited = await failureOf(outlook('list_events', {}));
    expect(limited).toMatchObject({
      code: 'tool_rate_limited',
      details: { upstreamStatus: 429, retryAfterSeconds: 7 },
    });
    expect(limited.message).toContain('MailboxConcurrency');
    // The client does not retry a 429 behind the caller's back: one request reached Graph.
    expect(eventsRequests()).toBe(beforeLimited + 1);
    expect(graph.requests.filter((request) => request.pathname === '/v1.0/me/events').at(-1)?.query).toEqual({
      $select: 'id,subject,start,end,isAllDay,location,organizer,attendees,bodyPreview,webLink',
      $top: '10',
    });

    graph.fail('/v1.0/me/calendarView', 503, {
      error: { code: 'serviceNotAvailable', message: 'Service Unavailable' },
    });
    const down = await failureOf(
      outlook('list_events', { startDateTime: '2026-11-03T00:00:00Z', endDateTime: '2026-11-04T00:00:00Z' }),
    );
    expect(down).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 503 } });
    expect(down.message).toContain('Service Unavailable');
  });

  it('refuses outlook params off the schema, and a next link to another host, before any request', async () => {
    const before = graph.requests.length;
    for (const [action, params] of [
      ['list_messages', { top: 0 }],
      ['list_messages', { folder: 'inbox', extra: 1 }],
      ['send_mail', { to: ['not an address'], subject: 's', body: 'b' }],
      ['send_mail', { to: [], subject: 's', body: 'b' }],
      ['list_events', { startDateTime: '2026-11-03T00:00:00Z' }],
      ['create_event', { subject: 's', start: 'tomorrow', end: '2026-11-03T11:00:00' }],
    ] as const) {
      expect(await failureOf(outlook(action, params))).toMatchObject({ code: 'tool_params_invalid' });
    }
    const elsewhere = await failureOf(
      outlook('list_messages', { next: 'https://attacker.example/v1.0/me/messages?$skip=10' }),
    );
    expect(elsewhere).toMatchObject({ code: 'tool_params_invalid' });
    expect(graph.requests.length).toBe(before);
  });

  it('telegram send_message posts JSON to /bot<token>/sendMessage, with parse_mode and a reply to a received message', async () => {
    const incoming = telegram.receive(telegram.chats.ann, 'Is the build green?');
    const { result } = await bot('send_message', {
      chat_id: telegram.chats.ann.id,
      text: 'Yes, <b>all green</b>.',
      parse_mode: 'HTML',
      reply_to_message_id: incoming.message.message_id,
      disable_notification: true,
    });
    expect(telegram.requests.at(-1)).toEqual({
      httpMethod: 'POST',
      method: 'sendMessage',
      token: telegram.token,
      contentType: 'application/json',
      params: {
        chat_id: telegram.chats.ann.id,
        text: 'Yes, <b>all green</b>.',
        parse_mode: 'HTML',
        reply_parameters: { message_id: incoming.message.message_id },
        disable_notification: true,
      },
      files: [],
    });
    expect(result).toMatchObject({
      messageId: telegram.sent.at(-1)?.message_id,
      chat: { id: telegram.chats.ann.id, type: 'private', username: 'ann_dev', name: 'Ann' },
      from: { isBot: true, username: telegram.bot.username },
      text: 'Yes, all green.',
      replyToMessageId: incoming.message.message_id,
      photo: null,
    });
    expect((result as { date: string }).date).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const group = await bot('send_message', { chat_id: '@runtools_team', text: 'Deploying now' });
    expect(group.result).toMatchObject({ chat: { id: telegram.chats.team.id, title: 'Team' }, text: 'Deploying now' });
  });

  it('telegram send_photo sends a URL Telegram downloads, a file_id it issued, and uploaded bytes as multipart', async () => {
    await rt().tools.credentials.set('telegram', { botToken: telegram.token });
    const byUrl = await bot('send_photo', { chat_id: telegram.chats.ann.id, photo: photoUrl, caption: 'A cat' }, null);
    expect(telegram.requests.at(-1)).toMatchObject({
      method: 'sendPhoto',
      token: telegram.token,
      contentType: 'application/json',
      params: { chat_id: telegram.chats.ann.id, photo: photoUrl, caption: 'A cat' },
    });
    const photo = (byUrl.result as { caption: string; photo: { fileId: string; width: number; height: number }[] })
      .photo;
    expect(byUrl.result).toMatchObject({ caption: 'A cat' });
    expect(photo).toEqual([
      { fileId: expect.any(String), fileUniqueId: expect.any(String), width: 2, height: 1, fileSize: png.length },
    ]);

    const byId = await bot('send_photo', { chat_id: telegram.chats.team.id, photo: photo[0]?.fileId }, null);
    expect(telegram.requests.at(-1)?.params).toEqual({ chat_id: telegram.chats.team.id, photo: photo[0]?.fileId });
    expect((byId.result as { photo: unknown[] }).photo).toHaveLength(1);

    const uploaded = await bot(
      'send_photo',
      {
        chat_id: telegram.chats.ann.id,
        photoBase64: png.toString('base64'),
        filename: 'chart.png',
        caption: 'Uploaded',
      },
      null,
    );
    const upload = telegram.requests.at(-1);
    expect(upload?.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(upload?.params).toEqual({ chat_id: String(telegram.chats.ann.id), caption: 'Uploaded' });
    expect(upload?.files).toEqual([{ field: 'photo', filename: 'chart.png', size: png.length }]);
    expect(uploaded.result).toMatchObject({ caption: 'Uploaded', photo: [{ width: 2, height: 1 }] });
    expect(telegram.sent.at(-1)?.photo?.[0]?.width).toBe(2);

    const bad = await failureOf(
      bot('send_photo', {
        chat_id: telegram.chats.ann.id,
        photoBase64: Buffer.from('not an image').toString('base64'),
      }),
    );
    expect(bad).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 400 } });
    expect(bad.message).toContain('IMAGE_PROCESS_FAILED');
  });

  it('telegram get_updates returns received messages oldest first, and an offset of nextOffset confirms them', async () => {
    // Confirm whatever earlier tests left, then two new messages arrive.
    const drained = (await bot('get_updates', {})).result as { nextOffset: number | null };
    if (drained.nextOffset !== null) await bot('get_updates', { offset: drained.nextOffset });
    telegram.receive(telegram.chats.ann, 'first');
    telegram.receive(telegram.chats.team, 'second');

    const first = (await bot('get_updates', { limit: 1, allowed_updates: ['message'] })).result as {
      updates: { updateId: number; type: string; message: { text: string; chat: { id: number } } }[];
      nextOffset: number;
    };
    expect(telegram.requests.at(-1)).toMatchObject({
      method: 'getUpdates',
      params: { limit: 1, timeout: 0, allowed_updates: ['message'] },
    });
    expect(first.updates).toEqual([
      expect.objectContaining({ type: 'message', message: expect.objectContaining({ text: 'first' }) }),
    ]);
    expect(first.nextOffset).toBe((first.updates[0]?.updateId ?? 0) + 1);

    const second = (await bot('get_updates', { offset: first.nextOffset })).result as typeof first;
    expect(telegram.requests.at(-1)?.params).toEqual({ offset: first.nextOffset, limit: 100, timeout: 0 });
    expect(second.updates.map((update) => [update.message.text, update.message.chat.id])).toEqual([
      ['second', telegram.chats.team.id],
    ]);
    // The offset confirmed the first update: Telegram has dropped it.
    expect(telegram.pending.map((update) => update.message.text)).toEqual(['second']);

    await bot('get_updates', { offset: second.nextOffset });
    expect(telegram.pending).toEqual([]);
    const empty = (await bot('get_updates', { offset: second.nextOffset })).result;
    expect(empty).toEqual({ updates: [], nextOffset: second.nextOffset });
  });

  it("maps Telegram's refusals without ever showing the bot token: 401, 403 blocked, chat not found, 429 retry_after, 5xx", async () => {
    const wrongToken = `${telegram.bot.id}:AAH${'x'.repeat(32)}`;
    const malformed = 'not-a-token';
    // Each call starts when its turn comes: a rejection nobody awaits yet would be unhandled.
    const checks: [() => Promise<unknown>, Partial<CallFailure>, string, string][] = [
      [
        () => bot('send_message', { chat_id: 1, text: 'hi' }, wrongToken),
        { code: 'tool_auth_failed', details: { upstreamStatus: 401 } },
        'Unauthorized',
        wrongToken,
      ],
      [
        () => bot('send_message', { chat_id: 1, text: 'hi' }, malformed),
        { code: 'tool_auth_failed', details: { upstreamStatus: 401 } },
        'Not Found',
        malformed,
      ],
      [
        () => bot('send_message', { chat_id: telegram.chats.blocked.id, text: 'hi' }),
        { code: 'tool_auth_failed', details: { upstreamStatus: 403 } },
        'Forbidden: bot was blocked by the user',
        telegram.token,
      ],
      [
        () => bot('send_message', { chat_id: 42, text: 'hi' }),
        { code: 'tool_not_found', details: { upstreamStatus: 404 } },
        'Bad Request: chat not found',
        telegram.token,
      ],
    ];
    for (const [call, expected, message, token] of checks) {
      const failure = await failureOf(call());
      expect(failure).toMatchObject(expected);
      expect(failure.message).toContain(message);
      expect(JSON.stringify(failure)).not.toContain(token);
      expect(JSON.stringify(failure)).not.toContain(telegram.token);
    }

    telegram.fail('sendMessage', 429, 'Too Many Requests: retry after 5', { retry_after: 5 });
    const limited = await failureOf(bot('send_message', { chat_id: telegram.chats.ann.id, text: 'hi' }));
    expect(limited).toMatchObject({
      code: 'tool_rate_limited',
      details: { upstreamStatus: 429, retryAfterSeconds: 5 },
    });
    expect(limited.message).toContain('Too Many Requests: retry after 5');

    telegram.fail('getUpdates', 502, 'Bad Gateway');
    const down = await failureOf(bot('get_updates', {}));
    expect(down).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 502 } });
    expect(down.message).toContain('Bad Gateway');
    expect(JSON.stringify(down)).not.toContain(telegram.token);

    const records = await rt().tools.executions({ tool: 'telegram' });
    expect(JSON.stringify(records)).not.toContain(telegram.token);
  });

  it('refuses telegram params off the schema before any request', async () => {
    const before = telegram.requests.length;
    for (const [action, params] of [
      ['send_message', { chat_id: 1 }],
      ['send_message', { chat_id: 'ann', text: 'x' }],
      ['send_message', { chat_id: 1, text: 'x'.repeat(4097) }],
      ['send_photo', { chat_id: 1 }],
      ['send_photo', { chat_id: 1, photo: photoUrl, photoBase64: png.toString('base64') }],
      ['get_updates', { timeout: 51 }],
      ['get_updates', { allowed_updates: ['everything'] }],
    ] as const) {
      expect(await failureOf(bot(action, params))).toMatchObject({ code: 'tool_params_invalid' });
    }
    expect(telegram.requests.length).toBe(before);
  });

  it('an agent calls every action of both tools through the tool service and gets their results', async () => {
    await addMockProvider(rt(), model);
    await rt().tools.credentials.set('outlook', { token: graph.token });
    await rt().tools.credentials.set('telegram', { botToken: telegram.token });
    await rt().agents.create({ slug: 'assistant', model: 'mock/m', tools: ['outlook', 'telegram'] });
    telegram.receive(telegram.chats.ann, 'Send me the agenda');
    model.script([
      {
        toolCalls: [
          { id: 'o1', name: 'outlook_list_messages', input: { top: 1 } },
          {
            id: 'o2',
            name: 'outlook_send_mail',
            input: { to: ['megan@contoso.com'], subject: 'Agenda', body: 'Attached.' },
          },
          {
            id: 'o3',
            name: 'outlook_create_event',
            input: { subject: 'Planning', start: '2026-11-05T14:00:00', end: '2026-11-05T15:00:00' },
          },
          { id: 't1', name: 'telegram_get_updates', input: { limit: 100 } },
          { id: 't2', name: 'telegram_send_message', input: { chat_id: telegram.chats.ann.id, text: 'Agenda sent.' } },
        ],
      },
      // A step of its own: the calls of one step run at once, and these must come after the ones above (the
      // event o3 creates is listed, the photo is the last thing sent).
      {
        toolCalls: [
          {
            id: 'o4',
            name: 'outlook_list_events',
            input: { startDateTime: '2026-11-05T00:00:00Z', endDateTime: '2026-11-06T00:00:00Z' },
          },
          { id: 't3', name: 'telegram_send_photo', input: { chat_id: telegram.chats.ann.id, photo: photoUrl } },
        ],
      },
      { text: 'Done.' },
    ]);
    const { events, offered, results } = await runAgentToEnd(rt(), model, 'assistant', 'Handle my morning.');
    expect(offered).toEqual(
      expect.arrayContaining([
        'outlook_list_messages',
        'outlook_send_mail',
        'outlook_list_events',
        'outlook_create_event',
        'telegram_send_message',
        'telegram_send_photo',
        'telegram_get_updates',
      ]),
    );
    expect(results.o1).toMatchObject({
      isError: false,
      output: { messages: [{ subject: 'Quarterly report' }], next: expect.any(String) },
    });
    expect(results.o2).toMatchObject({ isError: false, output: { accepted: true, subject: 'Agenda' } });
    expect(results.o3).toMatchObject({
      isError: false,
      output: { subject: 'Planning', start: { dateTime: '2026-11-05T14:00:00.0000000', timeZone: 'UTC' } },
    });
    expect(results.o4).toMatchObject({ isError: false, output: { events: [{ subject: 'Planning' }], next: null } });
    expect(results.t1).toMatchObject({
      isError: false,
      output: {
        updates: expect.arrayContaining([
          expect.objectContaining({ message: expect.objectContaining({ text: 'Send me the agenda' }) }),
        ]),
      },
    });
    expect(results.t2).toMatchObject({
      isError: false,
      output: { text: 'Agenda sent.', chat: { id: telegram.chats.ann.id } },
    });
    expect(results.t3).toMatchObject({ isError: false, output: { photo: [{ width: 2, height: 1 }] } });
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    expect(graph.sent.at(-1)?.message).toMatchObject({ subject: 'Agenda' });
    expect(telegram.sent.at(-1)?.photo).toHaveLength(1);
  });
});
