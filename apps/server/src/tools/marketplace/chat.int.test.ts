import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMockProvider, failureOf, runAgentToEnd } from '../../../../../test/support/agent-runs.js';
import { type DiscordServer, startDiscordServer } from '../../../../../test/support/fakes/discord.js';
import { type SlackServer, startSlackServer } from '../../../../../test/support/fakes/slack.js';
import { type ModelServer, startModelServer } from '../../../../../test/support/model-server.js';
import { useSandboxServer } from '../../../../../test/support/server.js';

describe('marketplace: slack (Web API) and discord (HTTP API v10), against fakes of both services', () => {
  let slack: SlackServer;
  let discord: DiscordServer;
  let model: ModelServer;
  const fixture = useSandboxServer(async () => {
    slack = await startSlackServer();
    discord = await startDiscordServer();
    model = await startModelServer();
    return { RUNTOOLS_TOOL_SLACK_BASE_URL: slack.url, RUNTOOLS_TOOL_DISCORD_BASE_URL: discord.url };
  });
  const rt = () => fixture.rt;
  const onSlack = (action: string, params: Record<string, unknown>, token: string | null = slack.token) =>
    rt().tools.execute('slack', { action, params, ...(token !== null ? { credentials: { token } } : {}) });
  const onDiscord = (action: string, params: Record<string, unknown>, botToken: string | null = discord.token) =>
    rt().tools.execute('discord', { action, params, ...(botToken !== null ? { credentials: { botToken } } : {}) });

  beforeAll(async () => {
    await rt().tools.install('slack');
    await rt().tools.install('discord');
  });
  afterAll(async () => {
    await slack?.close();
    await discord?.close();
    await model?.close();
  });

  it('lists both in the marketplace: slack with Slack OAuth and its scopes, discord with a bot token', async () => {
    const tools = await rt().tools.marketplace();
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(byName.slack).toMatchObject({
      provider: 'Slack',
      auth: { kind: 'oauth', provider: 'slack', scopes: expect.arrayContaining(['chat:write', 'users:read']) },
      installed: true,
    });
    expect(byName.slack?.actions.map((action) => action.name).sort()).toEqual([
      'get_channel_history',
      'get_user',
      'list_channels',
      'list_users',
      'post_message',
    ]);
    expect(byName.discord).toMatchObject({ provider: 'Discord', auth: { kind: 'api_key' }, installed: true });
    expect(byName.discord?.actions.map((action) => action.name).sort()).toEqual([
      'get_messages',
      'list_channels',
      'list_guilds',
      'send_message',
    ]);
  });

  it('slack post_message posts the form Slack’s client sends (blocks JSON-encoded), and a reply lands in the thread', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Deploy* finished' } }, { type: 'divider' }];
    const { result } = await onSlack('post_message', { channel: '#general', text: 'Deploy finished', blocks });
    const sent = slack.requests.at(-1);
    expect(sent).toMatchObject({
      httpMethod: 'POST',
      method: 'chat.postMessage',
      contentType: 'application/x-www-form-urlencoded',
      authorization: `Bearer ${slack.token}`,
    });
    expect(sent?.args).toEqual({ channel: '#general', text: 'Deploy finished', blocks: JSON.stringify(blocks) });
    const posted = slack.messagesOf(slack.channels.general.id).at(-1);
    expect(result).toEqual({
      channel: slack.channels.general.id,
      ts: posted?.ts,
      thread_ts: null,
      text: 'Deploy finished',
    });
    expect(posted).toMatchObject({ text: 'Deploy finished', blocks, user: slack.bot.userId, bot_id: slack.bot.botId });

    const reply = await onSlack('post_message', {
      channel: slack.channels.general.id,
      text: 'Notes are in the doc',
      thread_ts: posted?.ts,
    });
    expect(slack.requests.at(-1)?.args).toEqual({
      channel: slack.channels.general.id,
      text: 'Notes are in the doc',
      thread_ts: posted?.ts,
    });
    expect(reply.result).toMatchObject({ channel: slack.channels.general.id, thread_ts: posted?.ts });
    expect(slack.messagesOf(slack.channels.general.id).find((entry) => entry.ts === posted?.ts)?.reply_count).toBe(1);
  });

  it('slack list_channels pages with next_cursor using stored credentials, and hides archived channels', async () => {
    await rt().tools.credentials.set('slack', { token: slack.token });
    const first = (await onSlack('list_channels', { types: ['public_channel', 'private_channel'], limit: 2 }, null))
      .result as {
      channels: Record<string, unknown>[];
      nextCursor: string | null;
    };
    expect(slack.requests.at(-1)).toMatchObject({
      method: 'conversations.list',
      authorization: `Bearer ${slack.token}`,
      args: { types: 'public_channel,private_channel', exclude_archived: 'true', limit: '2' },
    });
    expect(first.channels).toEqual([
      {
        id: slack.channels.general.id,
        name: 'general',
        is_private: false,
        is_archived: false,
        is_member: true,
        num_members: 4,
        topic: 'Company-wide news',
        purpose: 'Everyone',
      },
      {
        id: slack.channels.random.id,
        name: 'random',
        is_private: false,
        is_archived: false,
        is_member: false,
        num_members: 1,
        topic: null,
        purpose: null,
      },
    ]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (
      await onSlack(
        'list_channels',
        { types: ['public_channel', 'private_channel'], limit: 2, cursor: first.nextCursor },
        null,
      )
    ).result as typeof first;
    expect(slack.requests.at(-1)?.args).toMatchObject({ cursor: first.nextCursor });
    // The bot sees the private channel it is in, not the one it is not in; the archived one is left out.
    expect(second.channels.map((channel) => [channel.name, channel.is_private])).toEqual([['design', true]]);
    expect(second.nextCursor).toBeNull();

    const withArchived = (await onSlack('list_channels', { excludeArchived: false }, null)).result as typeof first;
    expect(withArchived.channels.map((channel) => channel.name)).toEqual(['general', 'random', 'old-announcements']);
  });

  it('slack get_channel_history reads newest first without thread replies, pages, and bounds by oldest/latest', async () => {
    const general = slack.channels.general.id;
    const topLevel = slack.messagesOf(general).filter((entry) => !entry.thread_ts || entry.thread_ts === entry.ts);
    const newestFirst = [...topLevel].reverse();
    const first = (await onSlack('get_channel_history', { channel: general, limit: 2 })).result as {
      messages: { ts: string; text: string; user: string | null; reply_count: number }[];
      hasMore: boolean;
      nextCursor: string | null;
    };
    expect(slack.requests.at(-1)).toMatchObject({
      method: 'conversations.history',
      args: { channel: general, limit: '2' },
    });
    expect(first.messages.map((entry) => entry.text)).toEqual(['Deploy finished', 'Thanks Bob.']);
    expect(first.messages[0]).toMatchObject({ ts: newestFirst[0]?.ts, user: slack.bot.userId, reply_count: 1 });
    expect(first.hasMore).toBe(true);
    const second = (await onSlack('get_channel_history', { channel: general, limit: 2, cursor: first.nextCursor }))
      .result as typeof first;
    expect(second.messages.map((entry) => entry.text)).toEqual(['The deploy is done.', 'Welcome to #general!']);
    expect(second).toMatchObject({ hasMore: false, nextCursor: null });

    const window = (
      await onSlack('get_channel_history', {
        channel: general,
        oldest: newestFirst[3]?.ts,
        latest: newestFirst[0]?.ts,
      })
    ).result as typeof first;
    expect(slack.requests.at(-1)?.args).toMatchObject({ oldest: newestFirst[3]?.ts, latest: newestFirst[0]?.ts });
    expect(window.messages.map((entry) => entry.text)).toEqual(['Thanks Bob.', 'The deploy is done.']);
  });

  it('slack list_users pages through members (bots and deleted ones marked) and get_user reads one', async () => {
    const first = (await onSlack('list_users', { limit: 3 })).result as {
      users: Record<string, unknown>[];
      nextCursor: string | null;
    };
    expect(slack.requests.at(-1)).toMatchObject({ method: 'users.list', args: { limit: '3' } });
    expect(first.users[0]).toEqual({
      id: 'U0ANN00001',
      name: 'ann',
      real_name: 'Ann Lee',
      display_name: 'ann',
      title: 'Engineering lead',
      email: 'ann@runtools.dev',
      is_bot: false,
      is_admin: true,
      deleted: false,
      tz: 'Europe/Paris',
    });
    expect(first.users.map((user) => user.id)).toEqual(['U0ANN00001', 'U0BOB00001', 'W0CAROL001']);
    const second = (await onSlack('list_users', { limit: 3, cursor: first.nextCursor })).result as typeof first;
    expect(second.users.map((user) => [user.name, user.deleted, user.is_bot])).toEqual([
      ['dave', true, false],
      ['runtools', false, true],
    ]);
    expect(second.nextCursor).toBeNull();

    const { result } = await onSlack('get_user', { user: 'W0CAROL001' });
    expect(slack.requests.at(-1)).toMatchObject({ method: 'users.info', args: { user: 'W0CAROL001' } });
    expect(result).toMatchObject({ id: 'W0CAROL001', real_name: 'Carol Diaz', title: 'Designer', tz: 'Europe/Paris' });
  });

  it("maps Slack's refusals: invalid_auth, missing_scope naming the scope, *_not_found, 429 with Retry-After, others", async () => {
    const unauthorized = await failureOf(onSlack('list_users', {}, 'xoxb-not-a-real-token'));
    expect(unauthorized).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 401 } });
    expect(unauthorized.message).toContain('invalid_auth');

    const scope = await failureOf(onSlack('list_users', {}, slack.limitedToken));
    expect(scope).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(scope.message).toContain('missing_scope');
    expect(scope.message).toContain('users:read');

    const noUser = await failureOf(onSlack('get_user', { user: 'U0NOBODY01' }));
    expect(noUser).toMatchObject({ code: 'tool_not_found', details: { upstreamStatus: 404 } });
    expect(noUser.message).toContain('user_not_found');
    const noChannel = await failureOf(onSlack('get_channel_history', { channel: 'C0NOWHERE1' }));
    expect(noChannel).toMatchObject({ code: 'tool_not_found' });
    expect(noChannel.message).toContain('channel_not_found');

    const before = slack.requests.length;
    slack.fail('conversations.list', 429, { ok: false, error: 'ratelimited' }, { 'Retry-After': '30' });
    const limited = await failureOf(onSlack('list_channels', {}));
    expect(limited).toMatchObject({
      code: 'tool_rate_limited',
      details: { upstreamStatus: 429, retryAfterSeconds: 30 },
    });
    expect(limited.message).toContain('ratelimited');
    // The client did not wait and retry: one request reached Slack.
    expect(slack.requests.length).toBe(before + 1);

    const notMember = await failureOf(onSlack('post_message', { channel: '#random', text: 'hello' }));
    expect(notMember).toMatchObject({ code: 'tool_upstream_error' });
    expect(notMember.message).toContain('not_in_channel');

    slack.fail('users.info', 500, { ok: false, error: 'fatal_error' });
    const down = await failureOf(onSlack('get_user', { user: 'U0ANN00001' }));
    expect(down).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 500 } });
    expect(down.message).toContain('fatal_error');
  });

  it('refuses slack params off the schema before any request', async () => {
    const before = slack.requests.length;
    for (const [action, params] of [
      ['post_message', { channel: '#general' }],
      ['post_message', { channel: '#general', text: 'x', unfurl: true }],
      ['post_message', { channel: '#general', text: 'x', thread_ts: 'yesterday' }],
      ['list_channels', { types: ['everything'] }],
      ['list_channels', { limit: 1000 }],
      ['get_channel_history', { channel: 'general' }],
      ['list_users', { limit: 0 }],
      ['get_user', {}],
    ] as const) {
      expect(await failureOf(onSlack(action, params))).toMatchObject({ code: 'tool_params_invalid' });
    }
    expect(slack.requests.length).toBe(before);
  });

  it('discord send_message posts JSON with the bot token and discord.js’s User-Agent; a reply references its message', async () => {
    const general = discord.channels.general.id;
    const { result } = await onDiscord('send_message', {
      channelId: general,
      content: 'Release **2.1** is out',
      embeds: [{ title: 'Changelog', description: 'Faster sandboxes', fields: [{ name: 'Size', value: '12 MB' }] }],
    });
    const sent = discord.requests.at(-1);
    expect(sent).toMatchObject({
      method: 'POST',
      pathname: `/api/v10/channels/${general}/messages`,
      authorization: `Bot ${discord.token}`,
      contentType: 'application/json',
      body: {
        content: 'Release **2.1** is out',
        embeds: [{ title: 'Changelog', description: 'Faster sandboxes', fields: [{ name: 'Size', value: '12 MB' }] }],
      },
    });
    expect(sent?.userAgent).toMatch(/^DiscordBot \(https:\/\/discord\.js\.org, [\d.]+\)/);
    const stored = discord.messagesOf(general).at(-1);
    expect(result).toMatchObject({
      id: stored?.id,
      channel_id: general,
      author: { id: discord.bot.id, username: 'RunTools', bot: true },
      content: 'Release **2.1** is out',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T[\d:.]+\+00:00$/),
      edited_timestamp: null,
      embeds: [{ title: 'Changelog', description: 'Faster sandboxes', url: null }],
      referenced_message_id: null,
    });

    const earlier = discord.messagesOf(general)[0];
    const reply = await onDiscord('send_message', { channelId: general, content: 'Morning!', replyTo: earlier?.id });
    expect(discord.requests.at(-1)?.body).toEqual({
      content: 'Morning!',
      message_reference: { message_id: earlier?.id },
    });
    expect(reply.result).toMatchObject({ content: 'Morning!', referenced_message_id: earlier?.id });
  });

  it('discord list_guilds pages by after with stored credentials; list_channels gives type, category and position', async () => {
    await rt().tools.credentials.set('discord', { botToken: discord.token });
    const first = (await onDiscord('list_guilds', { limit: 2 }, null)).result as {
      guilds: Record<string, unknown>[];
      nextAfter: string | null;
    };
    expect(discord.requests.at(-1)).toMatchObject({
      method: 'GET',
      pathname: '/api/v10/users/@me/guilds',
      query: { limit: '2', with_counts: 'true' },
      authorization: `Bot ${discord.token}`,
    });
    expect(first.guilds).toEqual([
      {
        id: discord.guilds.dev.id,
        name: 'RunTools Dev',
        icon: null,
        owner: false,
        permissions: expect.any(String),
        approximate_member_count: 42,
      },
      expect.objectContaining({ id: discord.guilds.design.id, name: 'Design' }),
    ]);
    expect(first.nextAfter).toBe(discord.guilds.design.id);
    const second = (await onDiscord('list_guilds', { limit: 2, after: first.nextAfter }, null)).result as typeof first;
    expect(discord.requests.at(-1)?.query).toEqual({
      limit: '2',
      with_counts: 'true',
      after: discord.guilds.design.id,
    });
    expect(second.guilds.map((guild) => guild.name)).toEqual(['Ops']);
    expect(second.nextAfter).toBeNull();

    const { result } = await onDiscord('list_channels', { guildId: discord.guilds.dev.id }, null);
    expect(discord.requests.at(-1)?.pathname).toBe(`/api/v10/guilds/${discord.guilds.dev.id}/channels`);
    const { category, general, announcements, voice } = discord.channels;
    expect((result as { channels: unknown[] }).channels).toEqual(
      expect.arrayContaining([
        { id: category.id, name: 'Text Channels', type: 4, parent_id: null, position: 0, topic: null },
        { id: general.id, name: 'general', type: 0, parent_id: category.id, position: 0, topic: 'Anything goes' },
        { id: announcements.id, name: 'announcements', type: 5, parent_id: category.id, position: 1, topic: null },
        { id: voice.id, name: 'Lounge', type: 2, parent_id: null, position: 0, topic: null },
      ]),
    );
  });

  it('discord get_messages reads newest first, pages back with nextBefore, and reads forward with after', async () => {
    const general = discord.channels.general.id;
    const all = [...discord.messagesOf(general)].reverse();
    const first = (await onDiscord('get_messages', { channelId: general, limit: 2 })).result as {
      messages: { id: string; content: string; author: { username: string } }[];
      nextBefore: string | null;
    };
    expect(discord.requests.at(-1)).toMatchObject({
      method: 'GET',
      pathname: `/api/v10/channels/${general}/messages`,
      query: { limit: '2' },
    });
    expect(first.messages.map((message) => message.id)).toEqual([all[0]?.id, all[1]?.id]);
    expect(first.nextBefore).toBe(all[1]?.id);
    const second = (await onDiscord('get_messages', { channelId: general, limit: 2, before: first.nextBefore }))
      .result as typeof first;
    expect(discord.requests.at(-1)?.query).toEqual({ limit: '2', before: first.nextBefore });
    expect(second.messages.map((message) => message.id)).toEqual([all[2]?.id, all[3]?.id]);
    expect(second.messages[0]).toMatchObject({ content: 'Shipping at noon', author: { username: 'ann' } });

    const oldest = all.at(-1)?.id;
    const forward = (await onDiscord('get_messages', { channelId: general, limit: 1, after: oldest }))
      .result as typeof first;
    expect(discord.requests.at(-1)?.query).toEqual({ limit: '1', after: oldest });
    expect(forward.messages.map((message) => message.content)).toEqual(['The build is green']);
    expect(forward.nextBefore).toBeNull();
  });

  it("maps Discord's refusals: 401, 403 Missing Access and Permissions, 404 Unknown Channel, 429 at once, 5xx", async () => {
    const unauthorized = await failureOf(onDiscord('list_guilds', {}, 'not-the-token'));
    expect(unauthorized).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 401 } });
    expect(unauthorized.message).toContain('401: Unauthorized');
    expect(discord.requests.at(-1)?.authorization).toBe('Bot not-the-token');

    const hidden = await failureOf(onDiscord('get_messages', { channelId: discord.channels.secret.id }));
    expect(hidden).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(hidden.message).toContain('Missing Access (code 50001)');
    const readOnly = await failureOf(
      onDiscord('send_message', { channelId: discord.channels.announcements.id, content: 'hi' }),
    );
    expect(readOnly).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(readOnly.message).toContain('Missing Permissions (code 50013)');
    const foreign = await failureOf(onDiscord('list_channels', { guildId: discord.guilds.foreign.id }));
    expect(foreign).toMatchObject({ code: 'tool_auth_failed' });

    const missing = await failureOf(onDiscord('send_message', { channelId: '100000000000000001', content: 'hi' }));
    expect(missing).toMatchObject({ code: 'tool_not_found', details: { upstreamStatus: 404 } });
    expect(missing.message).toContain('Unknown Channel (code 10003)');

    const path = `/api/v10/channels/${discord.channels.general.id}/messages`;
    discord.fail(
      path,
      429,
      { message: 'You are being rate limited.', retry_after: 2.5, global: false },
      { 'Retry-After': '3' },
    );
    const before = discord.requests.length;
    const limited = await failureOf(onDiscord('get_messages', { channelId: discord.channels.general.id }));
    expect(limited).toMatchObject({
      code: 'tool_rate_limited',
      details: { upstreamStatus: 429, retryAfterSeconds: 3 },
    });
    expect(limited.message).toContain('You are being rate limited.');
    // Rejected rather than slept through and retried: one request reached Discord.
    expect(discord.requests.length).toBe(before + 1);

    discord.fail('/api/v10/users/@me/guilds', 502, { message: '502: Bad Gateway', code: 0 });
    const down = await failureOf(onDiscord('list_guilds', {}));
    expect(down).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 502 } });
    expect(down.message).toContain('502: Bad Gateway');
  });

  it('refuses discord params off the schema before any request', async () => {
    const before = discord.requests.length;
    const general = discord.channels.general.id;
    for (const [action, params] of [
      ['send_message', { channelId: general }],
      ['send_message', { channelId: general, content: 'x'.repeat(2001) }],
      ['send_message', { channelId: 'general', content: 'x' }],
      ['send_message', { channelId: general, embeds: [{ title: 'x', colour: 1 }] }],
      ['list_guilds', { limit: 201 }],
      ['list_channels', {}],
      ['get_messages', { channelId: general, limit: 101 }],
      ['get_messages', { channelId: general, before: general, after: general }],
    ] as const) {
      expect(await failureOf(onDiscord(action, params))).toMatchObject({ code: 'tool_params_invalid' });
    }
    expect(discord.requests.length).toBe(before);
  });

  it('an agent calls every action of both tools through the tool service and gets their results', async () => {
    await addMockProvider(rt(), model);
    await rt().tools.credentials.set('slack', { token: slack.token });
    await rt().tools.credentials.set('discord', { botToken: discord.token });
    await rt().agents.create({ slug: 'chatops', model: 'mock/m', tools: ['slack', 'discord'] });
    const general = discord.channels.general.id;
    model.script([
      {
        toolCalls: [
          { id: 's1', name: 'slack_list_channels', input: { limit: 1 } },
          { id: 's2', name: 'slack_get_channel_history', input: { channel: slack.channels.design.id } },
          { id: 's3', name: 'slack_list_users', input: { limit: 1 } },
          { id: 's4', name: 'slack_get_user', input: { user: 'U0BOB00001' } },
          { id: 'd1', name: 'discord_list_guilds', input: {} },
          { id: 'd2', name: 'discord_list_channels', input: { guildId: discord.guilds.design.id } },
          { id: 'd3', name: 'discord_get_messages', input: { channelId: general, limit: 1 } },
        ],
      },
      // A step of their own: the calls of one step run at once, and the history s2 reads must not hold these.
      {
        toolCalls: [
          {
            id: 's5',
            name: 'slack_post_message',
            input: { channel: slack.channels.design.id, text: 'Summary posted' },
          },
          {
            id: 'd4',
            name: 'discord_send_message',
            input: { channelId: discord.channels.designChat.id, content: 'Summary posted' },
          },
        ],
      },
      { text: 'Done.' },
    ]);
    const { events, offered, results } = await runAgentToEnd(
      rt(),
      model,
      'chatops',
      'Summarise the design channel everywhere.',
    );
    expect(offered).toEqual(
      expect.arrayContaining([
        'slack_post_message',
        'slack_list_channels',
        'slack_get_channel_history',
        'slack_list_users',
        'slack_get_user',
        'discord_send_message',
        'discord_list_guilds',
        'discord_list_channels',
        'discord_get_messages',
      ]),
    );
    expect(results.s1).toMatchObject({
      isError: false,
      output: { channels: [{ name: 'general' }], nextCursor: expect.any(String) },
    });
    expect(results.s2).toMatchObject({
      isError: false,
      output: { messages: [{ text: 'New mockups are up.', user: 'W0CAROL001' }], hasMore: false },
    });
    expect(results.s3).toMatchObject({ isError: false, output: { users: [{ id: 'U0ANN00001' }] } });
    expect(results.s4).toMatchObject({ isError: false, output: { id: 'U0BOB00001', tz: 'America/New_York' } });
    expect(results.s5).toMatchObject({
      isError: false,
      output: { channel: slack.channels.design.id, ts: expect.any(String), text: 'Summary posted' },
    });
    expect(results.d1).toMatchObject({
      isError: false,
      output: { guilds: [{ name: 'RunTools Dev' }, { name: 'Design' }, { name: 'Ops' }], nextAfter: null },
    });
    expect(results.d2).toMatchObject({ isError: false, output: { channels: [{ name: 'design-chat', type: 0 }] } });
    expect(results.d3).toMatchObject({ isError: false, output: { messages: [{ channel_id: general }] } });
    expect(results.d4).toMatchObject({
      isError: false,
      output: { channel_id: discord.channels.designChat.id, content: 'Summary posted' },
    });
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    expect(slack.messagesOf(slack.channels.design.id).at(-1)?.text).toBe('Summary posted');
    expect(discord.messagesOf(discord.channels.designChat.id).at(-1)?.content).toBe('Summary posted');
  });

  it('sent nothing off either service’s published shape in any test, and the fakes refuse what is off it', async () => {
    expect(slack.offSpec).toEqual([]);
    expect(discord.offSpec).toEqual([]);

    const slackCall = async (path: string, body: string, headers: Record<string, string>) =>
      (await fetch(`${slack.url}${path}`, { method: 'POST', body, headers })).json();
    const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${slack.token}` };
    expect(await slackCall('/api/users.info', 'user=U0ANN00001&fields=all', form)).toEqual({
      ok: false,
      error: 'invalid_arg_name',
    });
    expect(await slackCall('/api/conversations.history', 'limit=ten', form)).toEqual({
      ok: false,
      error: 'invalid_arguments',
      response_metadata: {
        messages: ['[ERROR] must provide an integer [json-pointer:/limit]', '[ERROR] missing required field: channel'],
      },
    });
    expect(await slackCall('/api/chat.postMessages', 'channel=x', form)).toEqual({
      ok: false,
      error: 'unknown_method',
      req_method: 'chat.postMessages',
    });
    expect(await slackCall('/api/users.list', '', { authorization: 'Bearer' })).toEqual({
      ok: false,
      error: 'not_authed',
    });
    expect(slack.offSpec.map((entry) => entry.method)).toEqual([
      'users.info',
      'conversations.history',
      'chat.postMessages',
    ]);

    const discordCall = async (path: string, userAgent: string) => {
      const response = await fetch(`${discord.url}${path}`, {
        headers: { authorization: `Bot ${discord.token}`, 'user-agent': userAgent },
      });
      return { status: response.status, body: await response.json(), limit: response.headers.get('x-ratelimit-limit') };
    };
    const userAgent = 'DiscordBot (https://runtools.dev, 1.0)';
    expect(await discordCall('/v10/users/@me/guilds', 'curl/8.0')).toMatchObject({ status: 400, limit: '5' });
    expect(await discordCall('/v10/users/@me/guilds?sort=name', userAgent)).toMatchObject({
      status: 400,
      body: { code: 50035, message: 'Invalid Form Body', errors: { sort: { _errors: [{ code: 'UNKNOWN_FIELD' }] } } },
    });
    expect(await discordCall('/v9/users/@me/guilds', userAgent)).toEqual({
      status: 404,
      body: { message: '404: Not Found', code: 0 },
      limit: '5',
    });
    expect(discord.offSpec).toHaveLength(3);
  });
});
