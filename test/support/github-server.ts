import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openApiChecker } from './openapi-check.js';

/**
 * A stand-in for GitHub's REST API on loopback, speaking its wire format: `token`/`Bearer` auth, Link
 * pagination, x-ratelimit-* headers on every answer, `{ message, documentation_url, status }` errors.
 *
 * Every request is first checked against GitHub's published OpenAPI description (@octokit/openapi): an
 * unknown method and path is GitHub's 404, a request whose path or query parameters or JSON body do not fit
 * the operation's schemas is a 400 with the validation errors, and both are recorded in `offSpec` (tests assert
 * it stays empty, so a client bug fails them). Then the token: one is valid (plus those given to
 * `acceptToken`), `rate-limited` gets GitHub's rate-limit 403, a missing one "Requires authentication" and any
 * other "Bad credentials" (both 401).
 *
 * It serves the authenticated user, their repositories, issues (with pull requests among them, as GitHub lists
 * them) and comments, pull requests, code search and repository contents, keeping what is created in memory.
 */
export interface GithubServer {
  url: string;
  token: string;
  /** The authenticated user (GET /user), owner of every repository. */
  user: { login: string; id: number; name: string; email: string };
  /** Every request as it arrived. */
  requests: GithubRequest[];
  /** Requests GitHub's description does not allow (or that this fake does not serve), with why. */
  offSpec: { method: string; path: string; errors: string[] }[];
  /** Issues opened through the API, in order. */
  issues: { number: number; title: string; body: string | null; labels: string[] }[];
  /** Comments posted through the API, in order. */
  comments: { id: number; repo: string; issueNumber: number; body: string }[];
  /** Pull requests: two seeded in octo/repo-1 (#1 open, #2 closed), then those opened through the API. */
  pulls: PullRequest[];
  /** Another token that authenticates as the same user (an access token another test server issued). */
  acceptToken(token: string): void;
  /** The next request to `path` (no query) gets this answer instead, after the spec and token checks. */
  fail(path: string, status: number, body: unknown, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export interface GithubRequest {
  method: string;
  /** Path with query, as sent. */
  path: string;
  pathname: string;
  query: Record<string, string>;
  authorization: string | undefined;
  /** The parsed JSON body, if any. */
  body: unknown;
  /** GitHub's operation id (`issues/create`), or null when the description has none for the request. */
  operationId: string | null;
}

export interface PullRequest {
  repo: string;
  number: number;
  title: string;
  body: string | null;
  head: string;
  base: string;
  draft: boolean;
  state: 'open' | 'closed';
}

const description = fileURLToPath(
  new URL('../../node_modules/@octokit/openapi/generated/api.github.com.json', import.meta.url),
);
const docs = 'https://docs.github.com/rest';
const created = '2026-11-02T00:00:00Z';

/** Git's object id of a blob: what GitHub answers as a file's `sha`. */
const blobSha = (content: string) =>
  createHash('sha1')
    .update(`blob ${Buffer.byteLength(content)}\0${content}`)
    .digest('hex');
const commitSha = (seed: string) => createHash('sha1').update(`commit ${seed}`).digest('hex');

const owner = { login: 'octo', id: 1, node_id: 'MDQ6VXNlcjE=', type: 'User', site_admin: false };
const repos = Array.from({ length: 3 }, (_, index) => ({
  id: 1000 + index,
  node_id: `R_repo${index}`,
  name: `repo-${index}`,
  full_name: `octo/repo-${index}`,
  private: index === 2,
  visibility: index === 2 ? 'private' : 'public',
  fork: false,
  archived: false,
  description: `repository ${index}`,
  html_url: `https://github.com/octo/repo-${index}`,
  default_branch: 'main',
  language: 'TypeScript',
  stargazers_count: index * 10,
  watchers_count: index * 10,
  forks_count: index,
  topics: [] as string[],
  created_at: `2026-0${index + 1}-01T00:00:00Z`,
  updated_at: `2026-11-0${3 - index}T00:00:00Z`,
  pushed_at: `2026-11-0${3 - index}T00:00:00Z`,
  open_issues_count: 1,
  owner,
}));
type Repo = (typeof repos)[number];

/** Each repository's files (the same on every branch) and branches. */
const files: Record<string, Record<string, string>> = {
  'octo/repo-0': {
    'README.md': 'hello world',
    'src/index.ts': 'export function greet(name: string): string {\n  return "hello " + name;\n}\n',
    'src/util.ts': 'export const answer = 42;\n',
    'docs/guide.md': '# Guide\n\nCall greet to say hello.\n',
  },
  'octo/repo-1': { 'README.md': 'hello world', 'ci.yml': 'on: push\n' },
  'octo/repo-2': { 'README.md': 'hello world' },
};
const branches: Record<string, string[]> = {
  'octo/repo-0': ['main', 'feature-x', 'fix-typo'],
  'octo/repo-1': ['main', 'ci', 'experiment'],
  'octo/repo-2': ['main'],
};

class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}
const notFound = (documentation = docs) =>
  new Answer(404, { message: 'Not Found', documentation_url: documentation, status: '404' });
const validationFailed = (errors: Record<string, unknown>[], documentation = docs) =>
  new Answer(422, { message: 'Validation Failed', errors, documentation_url: documentation, status: '422' });

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Splits a search query into words and `key:value` qualifiers, keeping quoted phrases whole. */
function parseQuery(q: string): { terms: string[]; qualifiers: [string, string][] } {
  const terms: string[] = [];
  const qualifiers: [string, string][] = [];
  for (const match of q.matchAll(/(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)/g)) {
    if (match[1] && match[2]) qualifiers.push([match[1].toLowerCase(), match[2].replaceAll('"', '')]);
    else if (match[3] !== undefined) terms.push(match[3]);
    else if (match[4]) terms.push(match[4]);
  }
  return { terms, qualifiers };
}

const languages: Record<string, string> = { ts: 'typescript', md: 'markdown', yml: 'yaml' };

export async function startGithubServer(): Promise<GithubServer> {
  const checker = openApiChecker(description);
  const token = 'ghp_testtoken0123456789';
  const tokens = new Set([token]);
  const user = { login: 'octo', id: 1, name: 'Octo Cat', email: 'octo@example.test' };
  const requests: GithubRequest[] = [];
  const offSpec: GithubServer['offSpec'] = [];
  const issues: GithubServer['issues'] = [];
  /** What GitHub keeps of an issue beyond what tests read in `issues`. */
  const issueState = new Map<GithubServer['issues'][number], { repo: string; comments: number }>();
  const comments: GithubServer['comments'] = [];
  const pulls: PullRequest[] = [
    {
      repo: 'octo/repo-1',
      number: 1,
      title: 'Add CI workflow',
      body: 'Runs the tests on push.',
      head: 'ci',
      base: 'main',
      draft: false,
      state: 'open',
    },
    {
      repo: 'octo/repo-1',
      number: 2,
      title: 'Old experiment',
      body: null,
      head: 'experiment',
      base: 'main',
      draft: false,
      state: 'closed',
    },
  ];
  const failures = new Map<string, Answer>();
  let remaining = 5000;
  let base = '';

  const repoOf = (params: Record<string, unknown>) =>
    repos.find((repo) => repo.full_name.toLowerCase() === `${params.owner}/${params.repo}`.toLowerCase());
  const nextNumber = (repo: string) =>
    1 +
    [...issueState.values()].filter((state) => state.repo === repo).length +
    pulls.filter((pull) => pull.repo === repo).length;

  /** One page of `items` with GitHub's Link header (next, last; first, prev past page one), keeping the query. */
  function page<T>(items: T[], pathname: string, query: Record<string, unknown>) {
    const perPage = Math.min(Number(query.per_page ?? 30), 100);
    const current = Number(query.page ?? 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (number: number, rel: string) => {
      const search = new URLSearchParams(
        Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
      );
      search.set('page', String(number));
      return `<${base}${pathname}?${search}>; rel="${rel}"`;
    };
    const links = [
      ...(current > 1 ? [link(current - 1, 'prev')] : []),
      ...(current < last ? [link(current + 1, 'next'), link(last, 'last')] : []),
      ...(current > 1 ? [link(1, 'first')] : []),
    ];
    return { slice: items.slice((current - 1) * perPage, current * perPage), link: links.join(', ') };
  }
  const paged = <T>(items: T[], pathname: string, query: Record<string, unknown>, map: (item: T) => unknown) => {
    const { slice, link } = page(items, pathname, query);
    return new Answer(200, slice.map(map), link ? { link } : {});
  };

  const repoJson = (repo: Repo) => ({ ...repo, url: `${base}/repos/${repo.full_name}` });
  const userJson = () => ({ ...owner, url: `${base}/users/octo`, html_url: 'https://github.com/octo' });
  const label = (name: string) => ({
    id: createHash('sha1').update(name).digest().readUInt32BE(0),
    name,
    color: 'ededed',
    default: false,
    description: null,
  });
  const issueJson = (issue: GithubServer['issues'][number]) => {
    const state = issueState.get(issue) ?? { repo: '', comments: 0 };
    const repo = repos.find((entry) => entry.full_name === state.repo) as Repo;
    return {
      id: 5_000_000 + repo.id * 1000 + issue.number,
      node_id: `I_${repo.id}_${issue.number}`,
      number: issue.number,
      title: issue.title,
      body: issue.body,
      state: 'open',
      locked: false,
      url: `${base}/repos/${repo.full_name}/issues/${issue.number}`,
      html_url: `https://github.com/${repo.full_name}/issues/${issue.number}`,
      user: userJson(),
      labels: issue.labels.map(label),
      assignees: [],
      comments: state.comments,
      created_at: created,
      updated_at: created,
      closed_at: null,
    };
  };
  const commentCount = (pull: PullRequest) =>
    comments.filter((comment) => comment.repo === pull.repo && comment.issueNumber === pull.number).length;
  const ref = (repo: Repo, branch: string) => ({
    label: `octo:${branch}`,
    ref: branch,
    sha: commitSha(`${repo.full_name}:${branch}`),
    user: userJson(),
    repo: repoJson(repo),
  });
  const pullJson = (pull: PullRequest) => {
    const repo = repos.find((entry) => entry.full_name === pull.repo) as Repo;
    return {
      id: 7_000_000 + repo.id * 1000 + pull.number,
      node_id: `PR_${pull.number}`,
      number: pull.number,
      state: pull.state,
      locked: false,
      title: pull.title,
      body: pull.body,
      draft: pull.draft,
      url: `${base}/repos/${pull.repo}/pulls/${pull.number}`,
      html_url: `https://github.com/${pull.repo}/pull/${pull.number}`,
      user: userJson(),
      labels: [],
      head: ref(repo, pull.head),
      base: ref(repo, pull.base),
      merged: false,
      mergeable: pull.state === 'open' ? true : null,
      merged_at: null,
      closed_at: pull.state === 'closed' ? created : null,
      created_at: created,
      updated_at: created,
      comments: commentCount(pull),
      review_comments: 0,
      commits: 1,
      additions: 12,
      deletions: 3,
      changed_files: 2,
    };
  };
  /** A pull request as the issues list shows it: an issue with a `pull_request` link. */
  const pullAsIssue = (pull: PullRequest) => {
    const repo = repos.find((entry) => entry.full_name === pull.repo) as Repo;
    return {
      id: 7_000_000 + repo.id * 1000 + pull.number,
      node_id: `I_${repo.id}_${pull.number}`,
      number: pull.number,
      title: pull.title,
      body: pull.body,
      state: pull.state,
      locked: false,
      url: `${base}/repos/${pull.repo}/issues/${pull.number}`,
      html_url: `https://github.com/${pull.repo}/pull/${pull.number}`,
      user: userJson(),
      labels: [],
      assignees: [],
      comments: commentCount(pull),
      created_at: created,
      updated_at: created,
      closed_at: pull.state === 'closed' ? created : null,
      pull_request: { url: `${base}/repos/${pull.repo}/pulls/${pull.number}`, merged_at: null },
    };
  };
  const contentJson = (repo: Repo, path: string, branch: string) => {
    const content = files[repo.full_name]?.[path] ?? '';
    return {
      type: 'file',
      encoding: 'base64',
      size: Buffer.byteLength(content),
      name: path.split('/').at(-1),
      path,
      // GitHub wraps the base64 at 60 characters.
      content: `${(
        Buffer.from(content)
          .toString('base64')
          .match(/.{1,60}/g) ?? []
      ).join('\n')}\n`,
      sha: blobSha(content),
      url: `${base}/repos/${repo.full_name}/contents/${path}?ref=${branch}`,
      html_url: `https://github.com/${repo.full_name}/blob/${branch}/${path}`,
      download_url: `https://raw.githubusercontent.com/${repo.full_name}/${branch}/${path}`,
    };
  };

  /** Answers a request the description allows, by its operation. */
  function serve(
    operationId: string,
    params: Record<string, unknown>,
    query: Record<string, unknown>,
    body: Record<string, unknown>,
    pathname: string,
    documentation: string,
  ): Answer | undefined {
    if (operationId === 'users/get-authenticated') {
      return new Answer(200, { ...userJson(), name: user.name, email: user.email, public_repos: 2 });
    }
    if (operationId === 'repos/list-for-authenticated-user') {
      const visibility = String(query.visibility ?? 'all');
      const sort = String(query.sort ?? 'full_name') as 'created' | 'updated' | 'pushed' | 'full_name';
      const direction = String(query.direction ?? (sort === 'full_name' ? 'asc' : 'desc'));
      const key = (repo: Repo) => (sort === 'full_name' ? repo.full_name : repo[`${sort}_at`]);
      const listed = repos
        .filter((repo) => visibility === 'all' || repo.visibility === visibility)
        .sort((left, right) => key(left).localeCompare(key(right)) * (direction === 'asc' ? 1 : -1));
      return paged(listed, pathname, query, repoJson);
    }
    if (operationId === 'search/code') {
      const { terms, qualifiers } = parseQuery(String(query.q));
      if (terms.length === 0) {
        return validationFailed([{ resource: 'Search', field: 'q', code: 'missing' }], documentation);
      }
      const matches = repos.flatMap((repo) =>
        Object.entries(files[repo.full_name] ?? {})
          .filter(([path]) =>
            qualifiers.every(([key, value]) => {
              const lower = value.toLowerCase();
              if (key === 'repo') return repo.full_name.toLowerCase() === lower;
              if (key === 'user' || key === 'org') return repo.owner.login.toLowerCase() === lower;
              if (key === 'path') return path.toLowerCase().startsWith(lower.replace(/^\//, ''));
              if (key === 'extension') return path.endsWith(`.${lower}`);
              if (key === 'filename') return path.split('/').at(-1)?.toLowerCase() === lower;
              if (key === 'language') return languages[path.split('.').at(-1) ?? ''] === lower;
              return true;
            }),
          )
          .filter(([, content]) => terms.every((term) => content.toLowerCase().includes(term.toLowerCase())))
          .map(([path, content]) => ({ repo, path, content })),
      );
      const { slice, link } = page(matches, pathname, query);
      const items = slice.map(({ repo, path, content }) => {
        const sha = blobSha(content);
        return {
          name: path.split('/').at(-1),
          path,
          sha,
          url: `${base}/repositories/${repo.id}/contents/${path}?ref=${commitSha(`${repo.full_name}:main`)}`,
          git_url: `${base}/repositories/${repo.id}/git/blobs/${sha}`,
          html_url: `https://github.com/${repo.full_name}/blob/${commitSha(`${repo.full_name}:main`)}/${path}`,
          repository: repoJson(repo),
          score: 1,
        };
      });
      return new Answer(
        200,
        { total_count: matches.length, incomplete_results: false, items },
        { ...(link ? { link } : {}), 'x-ratelimit-resource': 'code_search' },
      );
    }

    const repo = repoOf(params);
    if (!repo) return notFound(documentation);
    const number = Number(params.issue_number ?? params.pull_number);
    if (operationId === 'repos/get') return new Answer(200, repoJson(repo));
    if (operationId === 'issues/list-for-repo') {
      const state = String(query.state ?? 'open');
      const wanted = query.labels ? String(query.labels).split(',') : [];
      const listed = [
        ...issues
          .filter((issue) => issueState.get(issue)?.repo === repo.full_name)
          .filter((issue) => state !== 'closed' && wanted.every((name) => issue.labels.includes(name)))
          .map(issueJson),
        ...pulls
          .filter((pull) => pull.repo === repo.full_name && (state === 'all' || pull.state === state))
          .filter(() => wanted.length === 0)
          .map(pullAsIssue),
      ].sort((left, right) => right.number - left.number);
      return paged(listed, pathname, query, (item) => item);
    }
    if (operationId === 'issues/create') {
      const labels = ((body.labels ?? []) as (string | { name?: string })[]).map((entry) =>
        typeof entry === 'string' ? entry : (entry.name ?? ''),
      );
      const issue = {
        number: nextNumber(repo.full_name),
        title: String(body.title),
        body: typeof body.body === 'string' ? body.body : null,
        labels,
      };
      issues.push(issue);
      issueState.set(issue, { repo: repo.full_name, comments: 0 });
      return new Answer(201, issueJson(issue), { location: `${base}/repos/${repo.full_name}/issues/${issue.number}` });
    }
    if (operationId === 'issues/create-comment') {
      const issue = issues.find((entry) => issueState.get(entry)?.repo === repo.full_name && entry.number === number);
      const pull = pulls.find((entry) => entry.repo === repo.full_name && entry.number === number);
      if (!issue && !pull) return notFound(documentation);
      const comment = {
        id: 9_000_000 + comments.length + 1,
        repo: repo.full_name,
        issueNumber: number,
        body: String(body.body),
      };
      comments.push(comment);
      const state = issue && issueState.get(issue);
      if (state) state.comments += 1;
      const kind = pull ? 'pull' : 'issues';
      return new Answer(201, {
        id: comment.id,
        node_id: `IC_${comment.id}`,
        body: comment.body,
        user: userJson(),
        url: `${base}/repos/${repo.full_name}/issues/comments/${comment.id}`,
        html_url: `https://github.com/${repo.full_name}/${kind}/${number}#issuecomment-${comment.id}`,
        issue_url: `${base}/repos/${repo.full_name}/issues/${number}`,
        author_association: 'OWNER',
        created_at: created,
        updated_at: created,
      });
    }
    if (operationId === 'pulls/list') {
      const state = String(query.state ?? 'open');
      const head = query.head ? String(query.head) : undefined;
      const listed = pulls
        .filter((pull) => pull.repo === repo.full_name && (state === 'all' || pull.state === state))
        .filter((pull) => !head || head === `octo:${pull.head}`)
        .filter((pull) => !query.base || pull.base === query.base)
        .sort((left, right) => (left.number - right.number) * (query.direction === 'asc' ? 1 : -1));
      return paged(listed, pathname, query, pullJson);
    }
    if (operationId === 'pulls/get') {
      const pull = pulls.find((entry) => entry.repo === repo.full_name && entry.number === number);
      return pull ? new Answer(200, pullJson(pull)) : notFound(documentation);
    }
    if (operationId === 'pulls/create') {
      const head = String(body.head ?? '').replace(/^octo:/, '');
      const baseBranch = String(body.base ?? '');
      const known = branches[repo.full_name] ?? [];
      const errors = [
        ...(typeof body.title === 'string' ? [] : [{ resource: 'PullRequest', field: 'title', code: 'missing_field' }]),
        ...(known.includes(head) ? [] : [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]),
        ...(known.includes(baseBranch) ? [] : [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]),
      ];
      if (errors.length) return validationFailed(errors, documentation);
      if (head === baseBranch) {
        return validationFailed(
          [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${baseBranch} and ${head}` }],
          documentation,
        );
      }
      if (pulls.some((pull) => pull.repo === repo.full_name && pull.head === head && pull.state === 'open')) {
        return validationFailed(
          [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for octo:${head}.` }],
          documentation,
        );
      }
      const pull: PullRequest = {
        repo: repo.full_name,
        number: nextNumber(repo.full_name),
        title: String(body.title),
        body: typeof body.body === 'string' ? body.body : null,
        head,
        base: baseBranch,
        draft: body.draft === true,
        state: 'open',
      };
      pulls.push(pull);
      return new Answer(201, pullJson(pull), { location: `${base}/repos/${repo.full_name}/pulls/${pull.number}` });
    }
    if (operationId === 'repos/get-content') {
      const branch = query.ref === undefined ? repo.default_branch : String(query.ref);
      if (!(branches[repo.full_name] ?? []).includes(branch)) {
        return new Answer(404, {
          message: `No commit found for the ref ${branch}`,
          documentation_url: documentation,
          status: '404',
        });
      }
      const path = String(params.path).replace(/^\/+|\/+$/g, '');
      const tree = files[repo.full_name] ?? {};
      if (path in tree) return new Answer(200, contentJson(repo, path, branch));
      const prefix = path ? `${path}/` : '';
      const entries = new Map<string, { type: 'file' | 'dir'; path: string }>();
      for (const file of Object.keys(tree).filter((name) => name.startsWith(prefix))) {
        const [first, ...rest] = file.slice(prefix.length).split('/');
        entries.set(first as string, { type: rest.length ? 'dir' : 'file', path: `${prefix}${first}` });
      }
      if (entries.size === 0) return notFound(documentation);
      return new Answer(
        200,
        [...entries.entries()]
          .sort(([left], [right]) => left.localeCompare(right))
          .map(([name, entry]) => ({
            type: entry.type,
            name,
            path: entry.path,
            size: entry.type === 'file' ? Buffer.byteLength(tree[entry.path] ?? '') : 0,
            sha: entry.type === 'file' ? blobSha(tree[entry.path] ?? '') : commitSha(`tree ${entry.path}`),
            url: `${base}/repos/${repo.full_name}/contents/${entry.path}?ref=${branch}`,
            html_url: `https://github.com/${repo.full_name}/${entry.type === 'file' ? 'blob' : 'tree'}/${branch}/${entry.path}`,
            download_url:
              entry.type === 'file'
                ? `https://raw.githubusercontent.com/${repo.full_name}/${branch}/${entry.path}`
                : null,
          })),
      );
    }
    return undefined;
  }

  async function handle(request: IncomingMessage): Promise<Answer> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const raw = await readBody(request);
    const entry: GithubRequest = {
      method,
      path: url.pathname + url.search,
      pathname: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: request.headers.authorization,
      body: undefined,
      operationId: null,
    };
    requests.push(entry);
    const refuse = (errors: string[], answer: Answer) => {
      offSpec.push({ method, path: entry.path, errors });
      return answer;
    };
    if (raw) {
      try {
        entry.body = JSON.parse(raw);
      } catch {
        return refuse(
          ['the body is not JSON'],
          new Answer(400, { message: 'Problems parsing JSON', documentation_url: docs, status: '400' }),
        );
      }
    }
    const checked = checker.check({
      method,
      path: url.pathname,
      query: url.searchParams,
      contentType: request.headers['content-type'],
      body: entry.body,
    });
    entry.operationId = checked.operationId ?? null;
    if (!checked.ok) {
      if (checked.reason === 'unknown_operation') return refuse(checked.errors, notFound());
      return refuse(
        checked.errors,
        new Answer(400, {
          message: `Invalid request.\n\n${checked.errors.join('\n')}`,
          documentation_url: checked.documentationUrl ?? docs,
          status: '400',
        }),
      );
    }
    const given = /^(?:token|Bearer) (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (given === 'rate-limited') {
      return new Answer(
        403,
        {
          message: `API rate limit exceeded for user ID ${user.id}.`,
          documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting',
          status: '403',
        },
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60) },
      );
    }
    if (given === undefined) {
      return new Answer(401, { message: 'Requires authentication', documentation_url: docs, status: '401' });
    }
    if (!tokens.has(given)) {
      return new Answer(401, { message: 'Bad credentials', documentation_url: docs, status: '401' });
    }
    const forced = failures.get(url.pathname);
    if (forced) {
      failures.delete(url.pathname);
      return forced;
    }
    const answer = serve(
      checked.operationId,
      checked.pathParams,
      checked.query,
      (entry.body ?? {}) as Record<string, unknown>,
      url.pathname,
      checked.documentationUrl ?? docs,
    );
    // A real operation of GitHub's that no test has needed yet: say so rather than answer something made up.
    return answer ?? refuse([`${checked.operationId} is GitHub's, but this fake does not serve it`], notFound());
  }

  const server: Server = createServer((request, response) => {
    handle(request)
      .catch(
        (error: unknown) =>
          new Answer(500, { message: `the fake failed: ${(error as Error).message}`, documentation_url: docs }),
      )
      .then((answer) => {
        remaining = Math.max(0, remaining - 1);
        response.writeHead(answer.status, {
          'content-type': 'application/json; charset=utf-8',
          'x-github-media-type': 'github.v3; format=json',
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': String(remaining),
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
          'x-ratelimit-used': String(5000 - remaining),
          'x-ratelimit-resource': 'core',
          ...answer.headers,
        });
        response.end(JSON.stringify(answer.body));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    token,
    user,
    requests,
    offSpec,
    issues,
    comments,
    pulls,
    acceptToken: (accepted) => {
      tokens.add(accepted);
    },
    fail: (path, status, body, headers = {}) => {
      failures.set(path, new Answer(status, body, headers));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
