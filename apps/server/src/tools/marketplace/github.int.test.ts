import { createHash } from 'node:crypto';
import type { RunEvent } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMockProvider, failureOf } from '../../../../../test/support/agent-runs.js';
import { type GithubServer, startGithubServer } from '../../../../../test/support/github-server.js';
import { type ModelServer, startModelServer } from '../../../../../test/support/model-server.js';
import { useSandboxServer } from '../../../../../test/support/server.js';

const blobSha = (content: string) =>
  createHash('sha1')
    .update(`blob ${Buffer.byteLength(content)}\0${content}`)
    .digest('hex');

/**
 * The github tool against a fake GitHub that checks every request against GitHub's published OpenAPI
 * description: each action through the SDK and through an agent, the errors GitHub answers mapped to tool
 * errors, and nothing sent off the description.
 */
describe('marketplace: github, against a fake GitHub that checks each request against its OpenAPI description', () => {
  let github: GithubServer;
  let model: ModelServer;
  const fixture = useSandboxServer(async () => {
    github = await startGithubServer();
    model = await startModelServer();
    return { RUNTOOLS_TOOL_GITHUB_BASE_URL: github.url };
  });
  const rt = () => fixture.rt;
  const gh = async (action: string, params: Record<string, unknown>, token: string | null = github.token) =>
    (await rt().tools.execute('github', { action, params, ...(token !== null ? { credentials: { token } } : {}) }))
      .result as Record<string, unknown>;
  const last = () => github.requests.at(-1);

  beforeAll(async () => {
    await rt().tools.install('github');
  });
  afterAll(async () => {
    await github?.close();
    await model?.close();
  });

  it('lists github in the marketplace with GitHub OAuth (repo, read:user) and its ten actions', async () => {
    const tool = (await rt().tools.marketplace()).find((entry) => entry.name === 'github');
    expect(tool).toMatchObject({
      provider: 'GitHub',
      auth: { kind: 'oauth', provider: 'github', scopes: ['repo', 'read:user'] },
      installed: true,
    });
    expect(tool?.actions.map((action) => action.name).sort()).toEqual([
      'comment_on_issue',
      'create_issue',
      'create_pull_request',
      'get_file_contents',
      'get_pull_request',
      'get_repo',
      'list_issues',
      'list_pull_requests',
      'list_repos',
      'search_code',
    ]);
  });

  it('list_repos sends per_page and page, follows the Link header to the next page, and filters by visibility', async () => {
    const first = await gh('list_repos', { perPage: 2 });
    expect(last()).toMatchObject({
      method: 'GET',
      pathname: '/user/repos',
      query: { per_page: '2', page: '1' },
      authorization: `token ${github.token}`,
      operationId: 'repos/list-for-authenticated-user',
    });
    expect(first).toMatchObject({ nextPage: 2 });
    expect((first.repos as { fullName: string }[]).map((repo) => repo.fullName)).toEqual([
      'octo/repo-0',
      'octo/repo-1',
    ]);
    expect((first.repos as unknown[])[0]).toEqual({
      id: 1000,
      name: 'repo-0',
      fullName: 'octo/repo-0',
      owner: 'octo',
      private: false,
      description: 'repository 0',
      url: 'https://github.com/octo/repo-0',
      defaultBranch: 'main',
      language: 'TypeScript',
      stars: 0,
      updatedAt: '2026-11-03T00:00:00Z',
    });
    const second = await gh('list_repos', { perPage: 2, page: first.nextPage });
    expect(last()?.query).toMatchObject({ per_page: '2', page: '2' });
    expect(second).toMatchObject({ repos: [{ fullName: 'octo/repo-2' }], nextPage: null });
    const privateOnly = await gh('list_repos', { visibility: 'private', sort: 'updated' });
    expect(last()?.query).toMatchObject({ visibility: 'private', sort: 'updated' });
    expect(privateOnly).toMatchObject({ repos: [{ fullName: 'octo/repo-2', private: true }], nextPage: null });
  });

  it('get_repo reads one repository with its open issue count', async () => {
    expect(await gh('get_repo', { owner: 'octo', repo: 'repo-1' })).toMatchObject({
      id: 1001,
      fullName: 'octo/repo-1',
      defaultBranch: 'main',
      stars: 10,
      openIssues: 1,
    });
    expect(last()).toMatchObject({ method: 'GET', pathname: '/repos/octo/repo-1', operationId: 'repos/get' });
  });

  it('create_issue opens an issue, list_issues finds it by label, comment_on_issue comments on it', async () => {
    const created = await gh('create_issue', {
      owner: 'octo',
      repo: 'repo-0',
      title: 'Crash on start',
      body: 'It crashes.',
      labels: ['bug', 'p1'],
    });
    expect(last()).toMatchObject({
      method: 'POST',
      pathname: '/repos/octo/repo-0/issues',
      body: { title: 'Crash on start', body: 'It crashes.', labels: ['bug', 'p1'] },
      operationId: 'issues/create',
    });
    expect(created).toMatchObject({
      number: 1,
      title: 'Crash on start',
      state: 'open',
      url: 'https://github.com/octo/repo-0/issues/1',
      author: 'octo',
      labels: ['bug', 'p1'],
      comments: 0,
      body: 'It crashes.',
      isPullRequest: false,
    });
    expect(github.issues.at(-1)).toEqual({
      number: 1,
      title: 'Crash on start',
      body: 'It crashes.',
      labels: ['bug', 'p1'],
    });

    const comment = await gh('comment_on_issue', { owner: 'octo', repo: 'repo-0', issueNumber: 1, body: 'Me too' });
    expect(last()).toMatchObject({
      method: 'POST',
      pathname: '/repos/octo/repo-0/issues/1/comments',
      body: { body: 'Me too' },
      operationId: 'issues/create-comment',
    });
    expect(comment).toEqual({
      id: expect.any(Number),
      url: expect.stringMatching(/^https:\/\/github\.com\/octo\/repo-0\/issues\/1#issuecomment-\d+$/),
      author: 'octo',
      createdAt: '2026-11-02T00:00:00Z',
    });
    expect(github.comments.at(-1)).toEqual({ id: comment.id, repo: 'octo/repo-0', issueNumber: 1, body: 'Me too' });

    const labelled = await gh('list_issues', { owner: 'octo', repo: 'repo-0', labels: 'bug', perPage: 10 });
    expect(last()?.query).toMatchObject({ labels: 'bug', per_page: '10', page: '1' });
    expect(labelled).toMatchObject({ issues: [{ number: 1, comments: 1, labels: ['bug', 'p1'] }], nextPage: null });
    expect((await gh('list_issues', { owner: 'octo', repo: 'repo-0', labels: 'docs' })).issues).toEqual([]);
    // GitHub lists pull requests among issues; the tool marks them.
    const withPulls = await gh('list_issues', { owner: 'octo', repo: 'repo-1', state: 'all' });
    expect(withPulls.issues).toMatchObject([
      { number: 2, state: 'closed', isPullRequest: true },
      { number: 1, state: 'open', isPullRequest: true },
    ]);
  });

  it('list_pull_requests filters by state and pages, get_pull_request reads one, create_pull_request opens one', async () => {
    const open = await gh('list_pull_requests', { owner: 'octo', repo: 'repo-1' });
    expect(last()).toMatchObject({ pathname: '/repos/octo/repo-1/pulls', operationId: 'pulls/list' });
    expect(open).toEqual({
      pullRequests: [
        {
          id: expect.any(Number),
          number: 1,
          title: 'Add CI workflow',
          state: 'open',
          draft: false,
          url: 'https://github.com/octo/repo-1/pull/1',
          author: 'octo',
          head: 'ci',
          base: 'main',
          createdAt: '2026-11-02T00:00:00Z',
          updatedAt: '2026-11-02T00:00:00Z',
        },
      ],
      nextPage: null,
    });
    const all = await gh('list_pull_requests', { owner: 'octo', repo: 'repo-1', state: 'all', perPage: 1 });
    expect(last()?.query).toMatchObject({ state: 'all', per_page: '1', page: '1' });
    expect(all).toMatchObject({ pullRequests: [{ number: 2, state: 'closed' }], nextPage: 2 });
    const next = await gh('list_pull_requests', { owner: 'octo', repo: 'repo-1', state: 'all', perPage: 1, page: 2 });
    expect(next).toMatchObject({ pullRequests: [{ number: 1 }], nextPage: null });
    const byHead = await gh('list_pull_requests', { owner: 'octo', repo: 'repo-1', state: 'all', head: 'octo:ci' });
    expect(last()?.query).toMatchObject({ head: 'octo:ci' });
    expect((byHead.pullRequests as { number: number }[]).map((pull) => pull.number)).toEqual([1]);

    const one = await gh('get_pull_request', { owner: 'octo', repo: 'repo-1', pullNumber: 1 });
    expect(last()).toMatchObject({ pathname: '/repos/octo/repo-1/pulls/1', operationId: 'pulls/get' });
    expect(one).toMatchObject({
      number: 1,
      title: 'Add CI workflow',
      body: 'Runs the tests on push.',
      head: 'ci',
      base: 'main',
      headSha: expect.stringMatching(/^[0-9a-f]{40}$/),
      headRepo: 'octo/repo-1',
      merged: false,
      mergeable: true,
      mergedAt: null,
      commits: 1,
      additions: 12,
      deletions: 3,
      changedFiles: 2,
    });

    const created = await gh('create_pull_request', {
      owner: 'octo',
      repo: 'repo-0',
      title: 'Add feature X',
      head: 'feature-x',
      base: 'main',
      body: 'Adds X.',
      draft: true,
    });
    expect(last()).toMatchObject({
      method: 'POST',
      pathname: '/repos/octo/repo-0/pulls',
      body: { title: 'Add feature X', head: 'feature-x', base: 'main', body: 'Adds X.', draft: true },
      operationId: 'pulls/create',
    });
    // Issues and pull requests share a repository's numbers: issue 1 came first.
    expect(created).toMatchObject({
      number: 2,
      title: 'Add feature X',
      state: 'open',
      draft: true,
      head: 'feature-x',
      base: 'main',
      url: 'https://github.com/octo/repo-0/pull/2',
    });
    expect(github.pulls.at(-1)).toMatchObject({ repo: 'octo/repo-0', number: 2, head: 'feature-x', draft: true });
    // GitHub's 422 says only "Validation Failed"; the reason from its errors reaches the caller.
    const duplicate = await failureOf(
      gh('create_pull_request', { owner: 'octo', repo: 'repo-0', title: 'Again', head: 'feature-x', base: 'main' }),
    );
    expect(duplicate).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 422 } });
    expect(duplicate.message).toContain('Validation Failed: A pull request already exists for octo:feature-x.');
  });

  it('search_code returns the total count, each hit’s path, repository, sha and URL, and the next page', async () => {
    const found = await gh('search_code', { query: 'greet repo:octo/repo-0' });
    expect(last()).toMatchObject({
      method: 'GET',
      pathname: '/search/code',
      query: { q: 'greet repo:octo/repo-0', per_page: '30', page: '1' },
      operationId: 'search/code',
    });
    expect(found).toEqual({
      totalCount: 2,
      incomplete: false,
      items: [
        {
          path: 'src/index.ts',
          repository: 'octo/repo-0',
          sha: expect.stringMatching(/^[0-9a-f]{40}$/),
          url: expect.stringMatching(/^https:\/\/github\.com\/octo\/repo-0\/blob\/[0-9a-f]{40}\/src\/index\.ts$/),
        },
        {
          path: 'docs/guide.md',
          repository: 'octo/repo-0',
          sha: expect.stringMatching(/^[0-9a-f]{40}$/),
          url: expect.stringMatching(/\/docs\/guide\.md$/),
        },
      ],
      nextPage: null,
    });
    const first = await gh('search_code', { query: 'hello world', perPage: 2 });
    expect(first).toMatchObject({ totalCount: 3, nextPage: 2 });
    expect((first.items as { repository: string }[]).map((item) => item.repository)).toEqual([
      'octo/repo-0',
      'octo/repo-1',
    ]);
    const second = await gh('search_code', { query: 'hello world', perPage: 2, page: 2 });
    expect(last()?.query).toMatchObject({ q: 'hello world', per_page: '2', page: '2' });
    expect(second).toMatchObject({
      totalCount: 3,
      items: [{ path: 'README.md', repository: 'octo/repo-2' }],
      nextPage: null,
    });
  });

  it('get_file_contents decodes a file, lists a directory, reads at a ref, and says when the ref is missing', async () => {
    const file = await gh('get_file_contents', { owner: 'octo', repo: 'repo-0', path: 'src/index.ts' });
    expect(last()?.operationId).toBe('repos/get-content');
    expect(decodeURIComponent(last()?.pathname ?? '')).toBe('/repos/octo/repo-0/contents/src/index.ts');
    const source = 'export function greet(name: string): string {\n  return "hello " + name;\n}\n';
    expect(file).toEqual({
      type: 'file',
      path: 'src/index.ts',
      sha: blobSha(source),
      size: Buffer.byteLength(source),
      content: source,
    });
    const root = await gh('get_file_contents', { owner: 'octo', repo: 'repo-0' });
    // Octokit drops the slash an empty path leaves; GitHub's description says no path is the root.
    expect(last()?.pathname).toBe('/repos/octo/repo-0/contents');
    expect(root).toEqual({
      type: 'dir',
      entries: [
        { name: 'docs', path: 'docs', type: 'dir', size: 0 },
        { name: 'README.md', path: 'README.md', type: 'file', size: 11 },
        { name: 'src', path: 'src', type: 'dir', size: 0 },
      ],
    });
    const atRef = await gh('get_file_contents', { owner: 'octo', repo: 'repo-0', path: 'src', ref: 'feature-x' });
    expect(last()?.query).toEqual({ ref: 'feature-x' });
    expect((atRef.entries as { path: string }[]).map((entry) => entry.path)).toEqual(['src/index.ts', 'src/util.ts']);
    const missing = await failureOf(
      gh('get_file_contents', { owner: 'octo', repo: 'repo-0', path: 'README.md', ref: 'no-such-branch' }),
    );
    expect(missing).toMatchObject({ code: 'tool_not_found', details: { provider: 'GitHub', upstreamStatus: 404 } });
    expect(missing.message).toContain('No commit found for the ref no-such-branch');
  });

  it('uses the stored token when the call brings none, and a token the fake was told to accept', async () => {
    const other = 'gho_issued_by_another_server';
    const refused = await failureOf(gh('get_repo', { owner: 'octo', repo: 'repo-0' }, other));
    expect(refused).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 401 } });
    github.acceptToken(other);
    expect(await gh('get_repo', { owner: 'octo', repo: 'repo-0' }, other)).toMatchObject({ fullName: 'octo/repo-0' });
    expect(last()?.authorization).toBe(`token ${other}`);
    const me = await fetch(`${github.url}/user`, { headers: { authorization: `Bearer ${other}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ login: 'octo', id: 1, name: 'Octo Cat', email: 'octo@example.test' });

    await rt().tools.credentials.set('github', { token: github.token });
    expect(await gh('get_pull_request', { owner: 'octo', repo: 'repo-1', pullNumber: 2 }, null)).toMatchObject({
      number: 2,
      state: 'closed',
      mergeable: null,
    });
    expect(last()?.authorization).toBe(`token ${github.token}`);
  });

  it('maps GitHub’s refusals: 401 and 403 to tool_auth_failed, rate limits (429, 403 with no requests left) to tool_rate_limited with when to retry, 404 to tool_not_found, 5xx to tool_upstream_error', async () => {
    const unauthorized = await failureOf(gh('list_repos', {}, 'ghp_wrong'));
    expect(unauthorized).toMatchObject({
      code: 'tool_auth_failed',
      details: { provider: 'GitHub', upstreamStatus: 401 },
    });
    expect(unauthorized.message).toBe('GitHub refused the credentials: Bad credentials');

    const forbidden = 'Resource not accessible by personal access token';
    github.fail('/repos/octo/repo-2', 403, {
      message: forbidden,
      documentation_url: 'https://docs.github.com/rest',
      status: '403',
    });
    const refused = await failureOf(gh('get_repo', { owner: 'octo', repo: 'repo-2' }));
    expect(refused).toMatchObject({ code: 'tool_auth_failed', details: { upstreamStatus: 403 } });
    expect(refused.message).toContain(forbidden);

    const secondary = 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.';
    github.fail(
      '/user/repos',
      429,
      { message: secondary, documentation_url: 'https://docs.github.com/rest' },
      { 'retry-after': '30' },
    );
    const limited = await failureOf(gh('list_repos', {}));
    expect(limited).toMatchObject({
      code: 'tool_rate_limited',
      status: 429,
      details: { upstreamStatus: 429, retryAfterSeconds: 30 },
    });
    expect(limited.message).toContain(secondary);

    const primary = 'API rate limit exceeded for user ID 1.';
    const reset = Math.floor(Date.now() / 1000) + 120;
    github.fail(
      '/search/code',
      403,
      { message: primary, documentation_url: 'https://docs.github.com/rest', status: '403' },
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
    );
    const exhausted = await failureOf(gh('search_code', { query: 'greet' }));
    expect(exhausted).toMatchObject({ code: 'tool_rate_limited', status: 429, details: { upstreamStatus: 403 } });
    expect(exhausted.message).toContain(primary);
    // Seconds until the reset GitHub named (counted from when the tool read it, so at most the 120 given).
    const retryAfter = exhausted.details?.retryAfterSeconds as number;
    expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 120).toBe(true);

    const notFound = await failureOf(gh('get_pull_request', { owner: 'octo', repo: 'repo-1', pullNumber: 99 }));
    expect(notFound).toMatchObject({ code: 'tool_not_found', status: 404, details: { upstreamStatus: 404 } });
    expect(notFound.message).toBe('GitHub: not found: Not Found');

    github.fail('/repos/octo/repo-0/pulls', 502, { message: 'Server Error' });
    const broken = await failureOf(gh('list_pull_requests', { owner: 'octo', repo: 'repo-0' }));
    expect(broken).toMatchObject({ code: 'tool_upstream_error', details: { upstreamStatus: 502 } });
    expect(broken.message).toBe('GitHub failed (HTTP 502): Server Error');
  });

  it('refuses params off an action’s schema with tool_params_invalid before any request reaches GitHub', async () => {
    const before = github.requests.length;
    for (const [action, params, field] of [
      ['get_pull_request', { owner: 'octo', repo: 'repo-1', pullNumber: 0 }, 'pullNumber'],
      ['search_code', { query: 'x', perPage: 101 }, 'perPage'],
      ['create_pull_request', { owner: 'octo', repo: 'repo-0', title: 't', head: 'a' }, 'base'],
      ['list_pull_requests', { owner: 'octo', repo: 'repo-0', state: 'merged' }, 'state'],
      ['comment_on_issue', { owner: 'octo', repo: 'repo-0', issueNumber: 1, body: 'x', extra: true }, 'extra'],
    ] as const) {
      const failure = await failureOf(gh(action, params));
      expect(failure, action).toMatchObject({ code: 'tool_params_invalid', status: 400 });
      expect(JSON.stringify(failure.details), action).toContain(field);
    }
    expect(github.requests.length).toBe(before);
  });

  it('runs an agent whose model calls every github action, each result a tool-result event', async () => {
    await addMockProvider(rt(), model);
    await rt().agents.create({ slug: 'maintainer', model: 'mock/m', tools: ['github'] });
    const calls = [
      { id: 'c1', name: 'github_list_repos', input: { perPage: 1 } },
      { id: 'c2', name: 'github_get_repo', input: { owner: 'octo', repo: 'repo-2' } },
      { id: 'c3', name: 'github_list_issues', input: { owner: 'octo', repo: 'repo-0', labels: 'p1' } },
      { id: 'c4', name: 'github_create_issue', input: { owner: 'octo', repo: 'repo-2', title: 'Agent issue' } },
      {
        id: 'c5',
        name: 'github_comment_on_issue',
        input: { owner: 'octo', repo: 'repo-1', issueNumber: 1, body: 'Looks good' },
      },
      { id: 'c6', name: 'github_list_pull_requests', input: { owner: 'octo', repo: 'repo-1', state: 'closed' } },
      { id: 'c7', name: 'github_get_pull_request', input: { owner: 'octo', repo: 'repo-1', pullNumber: 1 } },
      {
        id: 'c8',
        name: 'github_create_pull_request',
        input: { owner: 'octo', repo: 'repo-0', title: 'Fix a typo', head: 'fix-typo', base: 'main' },
      },
      { id: 'c9', name: 'github_search_code', input: { query: 'answer language:typescript' } },
      { id: 'c10', name: 'github_get_file_contents', input: { owner: 'octo', repo: 'repo-0', path: 'src/util.ts' } },
    ];
    // The calls of one turn may run side by side: none of them reads what another one writes.
    model.script([{ toolCalls: calls }, { text: 'All done.' }]);
    const before = model.requests.length;
    const events: RunEvent[] = [];
    for await (const event of rt().agent.run('maintainer', 'Tidy up my repositories.', { stream: true })) {
      events.push(event);
    }
    const offered = (
      (model.requests[before]?.body as { tools?: { function: { name: string } }[] } | undefined)?.tools ?? []
    ).map((entry) => entry.function.name);
    expect(offered).toEqual(expect.arrayContaining(calls.map((call) => call.name)));
    const results = Object.fromEntries(
      events
        .filter((event): event is Extract<RunEvent, { type: 'tool-result' }> => event.type === 'tool-result')
        .map((event) => [event.toolCallId, event]),
    );
    expect(Object.keys(results).sort()).toEqual(calls.map((call) => call.id).sort());
    for (const call of calls)
      expect(results[call.id], call.name).toMatchObject({ toolName: call.name, isError: false });
    const output = (id: string) => results[id]?.output;
    expect(output('c1')).toMatchObject({ repos: [{ fullName: 'octo/repo-0' }], nextPage: 2 });
    expect(output('c2')).toMatchObject({ fullName: 'octo/repo-2', private: true });
    expect(output('c3')).toMatchObject({ issues: [{ number: 1, title: 'Crash on start', isPullRequest: false }] });
    expect(output('c4')).toMatchObject({
      number: 1,
      title: 'Agent issue',
      url: 'https://github.com/octo/repo-2/issues/1',
    });
    expect(output('c5')).toMatchObject({
      url: expect.stringContaining('https://github.com/octo/repo-1/pull/1#issuecomment-'),
    });
    expect(output('c6')).toMatchObject({ pullRequests: [{ number: 2, state: 'closed' }], nextPage: null });
    expect(output('c7')).toMatchObject({ number: 1, title: 'Add CI workflow', headRepo: 'octo/repo-1' });
    expect(output('c8')).toMatchObject({ number: 3, head: 'fix-typo', base: 'main', draft: false });
    expect(output('c9')).toEqual({
      totalCount: 1,
      incomplete: false,
      items: [expect.objectContaining({ path: 'src/util.ts', repository: 'octo/repo-0' })],
      nextPage: null,
    });
    expect(output('c10')).toMatchObject({ type: 'file', path: 'src/util.ts', content: 'export const answer = 42;\n' });
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    // What the agent created is in GitHub's state.
    expect(github.issues.at(-1)).toEqual({ number: 1, title: 'Agent issue', body: null, labels: [] });
    expect(github.comments.at(-1)).toMatchObject({ repo: 'octo/repo-1', issueNumber: 1, body: 'Looks good' });
    expect(github.pulls.at(-1)).toMatchObject({ repo: 'octo/repo-0', number: 3, head: 'fix-typo', base: 'main' });
  }, 180_000);

  it('the fake refuses a request off GitHub’s description with GitHub’s 400 body, and records it as off-spec', async () => {
    const before = github.offSpec.length;
    const headers = { authorization: `token ${github.token}`, 'content-type': 'application/json' };
    const badQuery = await fetch(`${github.url}/user/repos?per_page=many&colour=blue`, { headers });
    expect(badQuery.status).toBe(400);
    const badQueryBody = (await badQuery.json()) as { message: string; documentation_url: string; status: string };
    expect(badQueryBody).toMatchObject({
      status: '400',
      documentation_url: 'https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user',
    });
    expect(badQueryBody.message).toMatch(/^Invalid request\.\n\n/);
    expect(badQueryBody.message).toContain('query/per_page must be integer');
    expect(badQueryBody.message).toContain('(colour)');

    const badBody = await fetch(`${github.url}/repos/octo/repo-0/pulls`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ title: 'x', head: 'feature-x', base: 'main', draft: 'yes', reviewers: ['a'] }),
    });
    expect(badBody.status).toBe(400);
    const badBodyMessage = ((await badBody.json()) as { message: string }).message;
    expect(badBodyMessage).toContain('body/draft must be boolean');
    expect(badBodyMessage).toContain('(reviewers)');

    const badPath = await fetch(`${github.url}/repos/octo/repo-0/issues/first/comments`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ body: 'x' }),
    });
    expect(badPath.status).toBe(400);
    expect(((await badPath.json()) as { message: string }).message).toContain('path/issue_number must be integer');

    const unknown = await fetch(`${github.url}/repos/octo/repo-0/tickets`, { headers });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest',
      status: '404',
    });

    const recorded = github.offSpec.splice(before);
    expect(recorded.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      'GET /user/repos?per_page=many&colour=blue',
      'POST /repos/octo/repo-0/pulls',
      'POST /repos/octo/repo-0/issues/first/comments',
      'GET /repos/octo/repo-0/tickets',
    ]);
    // Nothing it refused changed its state.
    expect(github.pulls.filter((pull) => pull.title === 'x')).toEqual([]);
  });

  it('sent GitHub nothing off its published description in any test above', () => {
    expect(github.requests.length).toBeGreaterThan(40);
    expect(github.offSpec).toEqual([]);
  });
});
