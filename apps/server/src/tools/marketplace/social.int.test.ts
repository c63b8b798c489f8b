import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMockProvider, failureOf, runAgentToEnd } from '../../../../../test/support/agent-runs.js';
import { type LinkedInServer, startLinkedInServer } from '../../../../../test/support/fakes/linkedin.js';
import { startXServer, type XServer } from '../../../../../test/support/fakes/x.js';
import { type ModelServer, startModelServer } from '../../../../../test/support/model-server.js';
import { useSandboxServer } from '../../../../../test/support/server.js';
import { linkedInVersion } from './linkedin.js';

type Tweet = { id: string; text: string; author_id: string | null; author_username: string | null; created_at: string };
type TweetPage = { tweets: Tweet[]; resultCount: number; nextToken: string | null; partialErrors?: string[] };

describe('marketplace: x-twitter (X API v2) and linkedin (userinfo and Posts API), against fakes of both services', () => {
  let x: XServer;
  let linkedIn: LinkedInServer;
  let model: ModelServer;
  const fixture = useSandboxServer(async () => {
    x = await startXServer();
    linkedIn = await startLinkedInServer();
    model = await startModelServer();
    return { RUNTOOLS_TOOL_X_TWITTER_BASE_URL: x.url, RUNTOOLS_TOOL_LINKEDIN_BASE_URL: linkedIn.url };
  });
  const rt = () => fixture.rt;
  const tweet = (action: string, params: Record<string, unknown>, token: string | null = x.token) =>
    rt().tools.execute('x-twitter', { action, params, ...(token !== null ? { credentials: { token } } : {}) });
  const li = (action: string, params: Record<string, unknown>, token: string | null = linkedIn.token) =>
    rt().tools.execute('linkedin', { action, params, ...(token !== null ? { credentials: { token } } : {}) });
  const readQuery = { expansions: 'author_id', 'user.fields': 'username,name' };

  beforeAll(async () => {
    await rt().tools.install('x-twitter');
    await rt().tools.install('linkedin');
  });
  afterAll(async () => {
    await x?.close();
    await linkedIn?.close();
    await model?.close();
  });

  it('lists both in the marketplace as OAuth tools of x and linkedin, with their scopes and actions', async () => {
    const tools = await rt().tools.marketplace();
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(byName['x-twitter']).toMatchObject({
      provider: 'X',
      auth: { kind: 'oauth', provider: 'x', scopes: ['tweet.read', 'tweet.write', 'users.read', 'offline.access'] },
      installed: true,
    });
    expect(byName['x-twitter']?.actions.map((action) => action.name).sort()).toEqual([
      'get_me',
      'get_user_timeline',
      'post_tweet',
      'search_recent',
    ]);
    expect(byName.linkedin).toMatchObject({
      provider: 'LinkedIn',
      auth: { kind: 'oauth', provider: 'linkedin', scopes: ['openid', 'profile', 'email', 'w_member_social'] },
      installed: true,
    });
    expect(byName.linkedin?.actions.map((action) => action.name).sort()).toEqual(['create_post', 'get_profile']);
  });

  it('x get_me reads GET /2/users/me with the bearer token, and works with stored credentials', async () => {
    const { result } = await tweet('get_me', {});
    expect(result).toEqual({ id: x.me.id, name: x.me.name, username: x.me.username });
    expect(x.requests.at(-1)).toMatchObject({
      method: 'GET',
      pathname: '/2/users/me',
      query: {},
      authorization: `Bearer ${x.token}`,
    });

    await rt().tools.credentials.set('x-twitter', { token: x.token });
    const stored = await tweet('get_me', {}, null);
    expect(stored.result).toEqual({ id: x.me.id, name: x.me.name, username: x.me.username });
    expect(x.requests.at(-1)?.authorization).toBe(`Bearer ${x.token}`);
  });

  it('x post_tweet posts JSON to /2/tweets: a tweet, a reply to it and a quote of it, which the fake keeps', async () => {
    const { result: posted } = await tweet('post_tweet', { text: 'Hello from RunTools #runtoolsdemo' });
    expect(x.requests.at(-1)).toMatchObject({
      method: 'POST',
      pathname: '/2/tweets',
      authorization: `Bearer ${x.token}`,
      contentType: 'application/json',
      body: { text: 'Hello from RunTools #runtoolsdemo' },
    });
    const first = posted as { id: string; text: string };
    expect(first).toEqual({ id: expect.stringMatching(/^\d{19}$/), text: 'Hello from RunTools #runtoolsdemo' });
    expect(x.tweets.at(-1)).toMatchObject({ id: first.id, author_id: x.me.id });

    const { result: reply } = await tweet('post_tweet', { text: 'And a follow-up', reply_to: first.id });
    expect(x.requests.at(-1)?.body).toEqual({ text: 'And a follow-up', reply: { in_reply_to_tweet_id: first.id } });
    expect(x.tweets.at(-1)).toMatchObject({
      id: (reply as { id: string }).id,
      conversation_id: first.id,
      in_reply_to_user_id: x.me.id,
      referenced_tweets: [{ type: 'replied_to', id: first.id }],
    });

    const { result: quote } = await tweet('post_tweet', { text: 'Worth a read', quote_tweet_id: first.id });
    expect(x.requests.at(-1)?.body).toEqual({ text: 'Worth a read', quote_tweet_id: first.id });
    expect(quote).toEqual({ id: expect.stringMatching(/^\d{19}$/), text: 'Worth a read' });
    expect(x.tweets.at(-1)?.referenced_tweets).toEqual([{ type: 'quoted', id: first.id }]);

    // What was posted is what search finds.
    const found = (await tweet('search_recent', { query: '#runtoolsdemo' })).result as TweetPage;
    expect(found.tweets.map((item) => [item.id, item.author_username])).toEqual([[first.id, x.me.username]]);
  });

  it('x search_recent sends query, max_results and fields, returns tweets newest first with authors, and pages by next_token', async () => {
    for (let index = 1; index <= 12; index++)
      x.seed(x.users.ann, `Build log day ${index} #buildinpublic`, 3000 - index);
    const first = (
      await tweet('search_recent', { query: '#buildinpublic from:ann_builds', tweet_fields: ['public_metrics'] })
    ).result as TweetPage & { tweets: (Tweet & { public_metrics: unknown })[] };
    expect(x.requests.at(-1)).toMatchObject({
      method: 'GET',
      pathname: '/2/tweets/search/recent',
      query: {
        query: '#buildinpublic from:ann_builds',
        max_results: '10',
        'tweet.fields': 'author_id,created_at,public_metrics',
        ...readQuery,
      },
    });
    expect(first.tweets).toHaveLength(10);
    expect(first.resultCount).toBe(10);
    expect(first.tweets[0]).toEqual({
      id: expect.stringMatching(/^\d+$/),
      text: 'Build log day 12 #buildinpublic',
      author_id: x.users.ann.id,
      author_username: 'ann_builds',
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/),
      public_metrics: expect.objectContaining({ reply_count: 0, like_count: 0 }),
    });
    expect(first.nextToken).toEqual(expect.any(String));
    expect(first.partialErrors).toBeUndefined();

    const second = (
      await tweet('search_recent', {
        query: '#buildinpublic from:ann_builds',
        max_results: 10,
        next_token: first.nextToken,
      })
    ).result as TweetPage;
    expect(x.requests.at(-1)?.query).toMatchObject({ next_token: first.nextToken, max_results: '10' });
    expect(second.tweets.map((item) => item.text)).toEqual([
      'Build log day 2 #buildinpublic',
      'Build log day 1 #buildinpublic',
    ]);
    expect(second.nextToken).toBeNull();

    // Recent search covers seven days and leaves out protected accounts: the fake's older and protected #XAPI
    // tweets stay out.
    const api = (await tweet('search_recent', { query: '#XAPI', max_results: 100 })).result as TweetPage;
    expect(api.tweets.map((item) => item.author_username)).toEqual(['XDevelopers', 'XDevelopers']);
    expect(api.tweets.map((item) => item.text)).not.toContain('An old announcement about the X API #XAPI');

    const none = (await tweet('search_recent', { query: 'nothingmatchesthis' })).result;
    expect(none).toEqual({ tweets: [], resultCount: 0, nextToken: null });
  });

  it('x get_user_timeline resolves a username through /2/users/by/username, then pages /2/users/{id}/tweets', async () => {
    const first = (await tweet('get_user_timeline', { username: '@XDevelopers', max_results: 5 }))
      .result as TweetPage & {
      userId: string;
    };
    const [lookup, timeline] = x.requests.slice(-2);
    expect(lookup).toMatchObject({ method: 'GET', pathname: '/2/users/by/username/XDevelopers', query: {} });
    expect(timeline).toMatchObject({
      method: 'GET',
      pathname: `/2/users/${x.users.xdevelopers.id}/tweets`,
      query: { max_results: '5', 'tweet.fields': 'author_id,created_at', ...readQuery },
    });
    expect(first.userId).toBe(x.users.xdevelopers.id);
    // The timeline has every tweet, the ten-day-old one too, newest first.
    expect(first.tweets.map((item) => item.text)).toEqual([
      'Reminder: recent search covers the last seven days #XAPI',
      'Announcing new endpoints for the X API v2 #XAPI',
      'An old announcement about the X API #XAPI',
    ]);
    expect(first.tweets.every((item) => item.author_username === 'XDevelopers')).toBe(true);
    expect(first.nextToken).toBeNull();

    const mine = (await tweet('get_user_timeline', { user_id: x.me.id, max_results: 5, exclude: ['replies'] }))
      .result as TweetPage;
    expect(x.requests.at(-1)).toMatchObject({
      pathname: `/2/users/${x.me.id}/tweets`,
      query: { max_results: '5', exclude: 'replies' },
    });
    expect(mine.tweets.map((item) => item.text)).not.toContain('And a follow-up');
    expect(mine.tweets.map((item) => item.text)).toEqual(
      expect.arrayContaining(['Worth a read', 'Hello from RunTools #runtoolsdemo']),
    );

    for (let index = 1; index <= 6; index++) x.seed(x.users.ann, `Timeline entry ${index}`, 2000 - index);
    const annFirst = (await tweet('get_user_timeline', { user_id: x.users.ann.id, max_results: 5 }))
      .result as TweetPage;
    expect(annFirst.tweets.map((item) => item.text)).toEqual([
      'Timeline entry 6',
      'Timeline entry 5',
      'Timeline entry 4',
      'Timeline entry 3',
      'Timeline entry 2',
    ]);
    const annSecond = (
      await tweet('get_user_timeline', {
        user_id: x.users.ann.id,
        max_results: 5,
        pagination_token: annFirst.nextToken,
      })
    ).result as TweetPage;
    expect(x.requests.at(-1)?.query.pagination_token).toBe(annFirst.nextToken);
    expect(annSecond.tweets[0]?.text).toBe('Timeline entry 1');
  });

  it("maps X's refusals with X's message: 401, 403, partial errors as 404 and 403, 429 from x-rate-limit-reset, 400 and 5xx", async () => {
    const unauthorized = await failureOf(tweet('get_me', {}, 'not-a-token'));
    expect(unauthorized).toMatchObject({ code: 'tool_auth_failed', details: { provider: 'X', upstreamStatus: 401 } });
    expect(unauthorized.message).toContain('Unauthorized');

    const readOnly = await failureOf(tweet('post_tweet', { text: 'Not allowed' }, x.readOnlyToken));
    expect(readOnly).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(readOnly.message).toContain('You are not permitted to perform this action.');

    const duplicate = await failureOf(tweet('post_tweet', { text: 'Worth a read' }));
    expect(duplicate).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(duplicate.message).toContain('You are not allowed to create a Tweet with duplicate content.');

    // X answers an unknown or hidden user with HTTP 200 and errors instead of data.
    const unknown = await failureOf(tweet('get_user_timeline', { username: 'nobody_here' }));
    expect(unknown).toMatchObject({ code: 'tool_not_found', details: { upstreamStatus: 404 } });
    expect(unknown.message).toContain('Could not find user with username: [nobody_here].');
    expect(x.requests.at(-1)?.pathname).toBe('/2/users/by/username/nobody_here');
    const missingId = await failureOf(tweet('get_user_timeline', { user_id: '999' }));
    expect(missingId).toMatchObject({ code: 'tool_not_found' });
    expect(missingId.message).toContain('Could not find user with id: [999].');
    const hidden = await failureOf(tweet('get_user_timeline', { username: 'private_pat' }));
    expect(hidden).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(hidden.message).toContain(
      `Sorry, you are not authorized to see the user with id: [${x.users.protectedUser.id}].`,
    );

    const { reset } = x.exhaust('GET /2/tweets/search/recent', 600);
    const searches = () => x.requests.filter((request) => request.pathname === '/2/tweets/search/recent').length;
    const beforeCount = searches();
    const before = Math.floor(Date.now() / 1000);
    const limited = await failureOf(tweet('search_recent', { query: 'api' }));
    const after = Math.floor(Date.now() / 1000);
    expect(limited).toMatchObject({ code: 'tool_rate_limited', details: { upstreamStatus: 429 } });
    expect(limited.message).toContain('Too Many Requests');
    const retryAfter = limited.details?.retryAfterSeconds as number;
    expect(retryAfter).toBeGreaterThanOrEqual(reset - after);
    expect(retryAfter).toBeLessThanOrEqual(reset - before);
    expect(searches()).toBe(beforeCount + 1);
    x.refill('GET /2/tweets/search/recent');

    const badOperator = await failureOf(tweet('search_recent', { query: 'bogus:thing api' }));
    expect(badOperator).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 400 } });
    expect(badOperator.message).toContain("Reference to invalid operator 'bogus'");

    x.fail('/2/users/me', 503, {
      title: 'Service Unavailable',
      detail: 'Service Unavailable',
      type: 'about:blank',
      status: 503,
    });
    const down = await failureOf(tweet('get_me', {}));
    expect(down).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 503 } });
    expect(down.message).toContain('Service Unavailable');

    // Partial errors beside data are reported, not fatal.
    x.fail('/2/tweets/search/recent', 200, {
      data: [
        {
          id: '1866000000000009999',
          text: 'Quoting a deleted post',
          author_id: x.users.ann.id,
          edit_history_tweet_ids: ['1866000000000009999'],
        },
      ],
      includes: { users: [{ id: x.users.ann.id, name: x.users.ann.name, username: x.users.ann.username }] },
      errors: [
        {
          value: '1866000000000000001',
          detail: 'Could not find tweet with referenced_tweets.id: [1866000000000000001].',
          title: 'Not Found Error',
          resource_type: 'tweet',
          parameter: 'referenced_tweets.id',
          resource_id: '1866000000000000001',
          type: 'https://api.twitter.com/2/problems/resource-not-found',
        },
      ],
      meta: { newest_id: '1866000000000009999', oldest_id: '1866000000000009999', result_count: 1 },
    });
    const partial = (await tweet('search_recent', { query: 'deleted' })).result as TweetPage;
    expect(partial).toEqual({
      tweets: [
        {
          id: '1866000000000009999',
          text: 'Quoting a deleted post',
          author_id: x.users.ann.id,
          author_username: 'ann_builds',
          created_at: null,
        },
      ],
      resultCount: 1,
      nextToken: null,
      partialErrors: ['Could not find tweet with referenced_tweets.id: [1866000000000000001].'],
    });
  });

  it('refuses x-twitter params off the schema before any request', async () => {
    const before = x.requests.length;
    for (const [action, params] of [
      ['post_tweet', {}],
      ['post_tweet', { text: '' }],
      ['post_tweet', { text: 'hi', reply_to: 'abc' }],
      ['post_tweet', { text: 'hi', media: ['x'] }],
      ['search_recent', { query: 'api', max_results: 5 }],
      ['search_recent', { query: 'api', max_results: 101 }],
      ['search_recent', { query: 'a'.repeat(513) }],
      ['search_recent', { query: 'api', tweet_fields: ['everything'] }],
      ['get_user_timeline', {}],
      ['get_user_timeline', { user_id: '1', username: 'XDevelopers' }],
      ['get_user_timeline', { username: 'not a handle' }],
      ['get_user_timeline', { user_id: '1', max_results: 4 }],
      ['get_me', { verbose: true }],
    ] as const) {
      expect(await failureOf(tweet(action, params))).toMatchObject({ code: 'tool_params_invalid' });
    }
    expect(x.requests.length).toBe(before);
  });

  it('linkedin get_profile reads the OpenID Connect userinfo with the bearer token', async () => {
    const { result } = await li('get_profile', {});
    expect(linkedIn.requests.at(-1)).toMatchObject({
      method: 'GET',
      pathname: '/v2/userinfo',
      authorization: `Bearer ${linkedIn.token}`,
    });
    expect(result).toEqual({
      sub: linkedIn.member.sub,
      personUrn: `urn:li:person:${linkedIn.member.sub}`,
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
      email: 'ada@example.com',
      email_verified: true,
      picture: linkedIn.member.picture,
      locale: 'en_GB',
    });
    // Without the email scope LinkedIn leaves the email out.
    const profileOnly = await li('get_profile', {}, linkedIn.profileOnlyToken);
    expect(profileOnly.result).toMatchObject({ sub: linkedIn.member.sub, email: null, email_verified: null });
  });

  it('linkedin create_post posts the versioned Posts API body as the member, escaping little text, and returns the x-restli-id', async () => {
    await rt().tools.credentials.set('linkedin', { token: linkedIn.token });
    const text = 'We shipped v2 (beta) today! #launch @everyone [details] soon_ish ~ *really*';
    const { result } = await li('create_post', { text }, null);
    const [info, post] = linkedIn.requests.slice(-2);
    expect(info).toMatchObject({ method: 'GET', pathname: '/v2/userinfo', authorization: `Bearer ${linkedIn.token}` });
    expect(post).toEqual({
      method: 'POST',
      pathname: '/rest/posts',
      authorization: `Bearer ${linkedIn.token}`,
      contentType: 'application/json',
      linkedInVersion,
      restliProtocolVersion: '2.0.0',
      body: {
        author: `urn:li:person:${linkedIn.member.sub}`,
        commentary: 'We shipped v2 \\(beta\\) today! \\#launch \\@everyone \\[details\\] soon\\_ish \\~ \\*really\\*',
        visibility: 'PUBLIC',
        distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
        lifecycleState: 'PUBLISHED',
        isReshareDisabledByAuthor: false,
      },
    });
    const stored = linkedIn.posts.at(-1);
    expect(result).toEqual({
      id: stored?.id,
      author: `urn:li:person:${linkedIn.member.sub}`,
      visibility: 'PUBLIC',
      url: `https://www.linkedin.com/feed/update/${stored?.id}/`,
    });
    expect(stored?.id).toMatch(/^urn:li:share:\d+$/);
    // The feed shows the text as written: nothing was cut at a reserved character.
    expect(stored?.text).toBe(text);

    const connections = await li('create_post', { text: 'For my network only', visibility: 'CONNECTIONS' }, null);
    expect(linkedIn.requests.at(-1)?.body).toMatchObject({
      visibility: 'CONNECTIONS',
      commentary: 'For my network only',
    });
    expect(connections.result).toMatchObject({ visibility: 'CONNECTIONS', id: linkedIn.posts.at(-1)?.id });
    expect(linkedIn.posts).toHaveLength(2);
  });

  it('the LinkedIn fake refuses a post without LinkedIn-Version, with a retired version, or without the Rest.li header', async () => {
    const body = JSON.stringify({
      author: `urn:li:person:${linkedIn.member.sub}`,
      commentary: 'Direct',
      visibility: 'PUBLIC',
      distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
      lifecycleState: 'PUBLISHED',
      isReshareDisabledByAuthor: false,
    });
    const post = (headers: Record<string, string>) =>
      fetch(`${linkedIn.url}/rest/posts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${linkedIn.token}`, 'content-type': 'application/json', ...headers },
        body,
      });
    const missing = await post({ 'X-Restli-Protocol-Version': '2.0.0' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ status: 400, code: 'VERSION_MISSING' });
    const retired = await post({ 'LinkedIn-Version': '202201', 'X-Restli-Protocol-Version': '2.0.0' });
    expect(retired.status).toBe(426);
    expect(await retired.json()).toEqual({
      status: 426,
      code: 'NONEXISTENT_VERSION',
      message: 'Requested version 202201 is not active',
    });
    const noRestli = await post({ 'LinkedIn-Version': linkedInVersion });
    expect(noRestli.status).toBe(400);
    expect(linkedIn.posts.map((entry) => entry.text)).not.toContain('Direct');
  });

  it("maps LinkedIn's refusals with its message: 401, 403 ACCESS_DENIED, 404, 429 with and without Retry-After, 422, 5xx", async () => {
    const unauthorized = await failureOf(li('get_profile', {}, 'expired-token'));
    expect(unauthorized).toMatchObject({
      code: 'tool_auth_failed',
      details: { provider: 'LinkedIn', upstreamStatus: 401 },
    });
    expect(unauthorized.message).toContain('Invalid access token (INVALID_ACCESS_TOKEN)');

    const denied = await failureOf(li('create_post', { text: 'No scope for this' }, linkedIn.profileOnlyToken));
    expect(denied).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(denied.message).toContain('Not enough permissions to access: partnerApiPostsExternal.CREATE');
    expect(denied.message).toContain('ACCESS_DENIED');

    linkedIn.fail('/v2/userinfo', 404, {
      status: 404,
      serviceErrorCode: 0,
      code: 'NOT_FOUND',
      message: 'No virtual resource found',
    });
    const missing = await failureOf(li('get_profile', {}));
    expect(missing).toMatchObject({ code: 'tool_not_found', details: { upstreamStatus: 404 } });
    expect(missing.message).toContain('No virtual resource found');

    const throttle = {
      status: 429,
      serviceErrorCode: 101,
      code: 'TOO_MANY_REQUESTS',
      message: 'Resource level throttle APPLICATION DAY limit for calls to this resource is reached.',
    };
    linkedIn.fail('/rest/posts', 429, throttle);
    const posts = () => linkedIn.requests.filter((request) => request.pathname === '/rest/posts').length;
    const before = posts();
    const limited = await failureOf(li('create_post', { text: 'Throttled' }));
    expect(limited).toMatchObject({
      code: 'tool_rate_limited',
      details: { upstreamStatus: 429, retryAfterSeconds: null },
    });
    expect(limited.message).toContain('APPLICATION DAY limit');
    expect(posts()).toBe(before + 1);
    linkedIn.fail('/v2/userinfo', 429, throttle, { 'Retry-After': '30' });
    expect(await failureOf(li('get_profile', {}))).toMatchObject({
      code: 'tool_rate_limited',
      details: { retryAfterSeconds: 30 },
    });

    const duplicate = await failureOf(li('create_post', { text: 'For my network only', visibility: 'CONNECTIONS' }));
    expect(duplicate).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 422 } });
    expect(duplicate.message).toContain('Content is a duplicate of urn:li:share:');

    linkedIn.fail('/rest/posts', 500, { status: 500, message: 'Internal Server Error' });
    const down = await failureOf(li('create_post', { text: 'Down' }));
    expect(down).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 500 } });
    expect(down.message).toContain('Internal Server Error');
  });

  it('refuses linkedin params off the schema before any request', async () => {
    const before = linkedIn.requests.length;
    for (const [action, params] of [
      ['create_post', {}],
      ['create_post', { text: '' }],
      ['create_post', { text: 'x'.repeat(3001) }],
      ['create_post', { text: 'hi', visibility: 'FRIENDS' }],
      ['create_post', { text: 'hi', author: 'urn:li:person:someone' }],
      ['get_profile', { fields: 'all' }],
    ] as const) {
      expect(await failureOf(li(action, params))).toMatchObject({ code: 'tool_params_invalid' });
    }
    expect(linkedIn.requests.length).toBe(before);
  });

  it('an agent calls every action of both tools through the tool service and gets their results', async () => {
    await addMockProvider(rt(), model);
    await rt().tools.credentials.set('x-twitter', { token: x.token });
    await rt().tools.credentials.set('linkedin', { token: linkedIn.token });
    await rt().agents.create({ slug: 'social', model: 'mock/m', tools: ['x-twitter', 'linkedin'] });
    model.script([
      {
        toolCalls: [
          { id: 'x1', name: 'x_twitter_get_me', input: {} },
          { id: 'x2', name: 'x_twitter_post_tweet', input: { text: 'Agent says hi #agentrun' } },
          { id: 'x4', name: 'x_twitter_get_user_timeline', input: { username: 'ann_builds', max_results: 5 } },
          { id: 'l1', name: 'linkedin_get_profile', input: {} },
          {
            id: 'l2',
            name: 'linkedin_create_post',
            input: { text: 'Posted by an agent (test)', visibility: 'PUBLIC' },
          },
        ],
      },
      // A step of its own: the calls of one step run at once, and the search must find the tweet x2 posted.
      { toolCalls: [{ id: 'x3', name: 'x_twitter_search_recent', input: { query: '#agentrun' } }] },
      { text: 'Done.' },
    ]);
    const { events, offered, results } = await runAgentToEnd(rt(), model, 'social', 'Share the news.');
    expect(offered).toEqual(
      expect.arrayContaining([
        'x_twitter_get_me',
        'x_twitter_post_tweet',
        'x_twitter_search_recent',
        'x_twitter_get_user_timeline',
        'linkedin_get_profile',
        'linkedin_create_post',
      ]),
    );
    expect(results.x1).toEqual({ isError: false, output: { id: x.me.id, name: x.me.name, username: x.me.username } });
    expect(results.x2).toEqual({
      isError: false,
      output: { id: expect.stringMatching(/^\d+$/), text: 'Agent says hi #agentrun' },
    });
    expect(results.x3).toMatchObject({
      isError: false,
      output: { tweets: [{ text: 'Agent says hi #agentrun', author_username: x.me.username }], nextToken: null },
    });
    expect(results.x4).toMatchObject({
      isError: false,
      output: {
        userId: x.users.ann.id,
        tweets: expect.arrayContaining([expect.objectContaining({ author_username: 'ann_builds' })]),
      },
    });
    expect(results.l1).toMatchObject({ isError: false, output: { sub: linkedIn.member.sub, name: 'Ada Lovelace' } });
    expect(results.l2).toMatchObject({
      isError: false,
      output: { id: expect.stringMatching(/^urn:li:share:/), visibility: 'PUBLIC' },
    });
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    expect(x.tweets.at(-1)).toMatchObject({ text: 'Agent says hi #agentrun', author_id: x.me.id });
    expect(linkedIn.posts.at(-1)?.text).toBe('Posted by an agent (test)');
  });
});
