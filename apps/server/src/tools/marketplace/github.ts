import { Octokit } from '@octokit/rest';
import { type OfficialTool, type OfficialToolContext, upstreamError } from './official-tool.js';

/** A client for one call: the token, the (operator-configurable) API base URL, the call's abort signal. */
function client(context: OfficialToolContext): Octokit {
  return new Octokit({
    auth: context.credentials.token,
    baseUrl: context.baseUrl,
    userAgent: 'runtools-github-tool',
    request: { signal: context.signal },
  });
}

/** Runs one API call, mapping GitHub's refusals to tool errors with GitHub's message. */
async function call<T>(context: OfficialToolContext, run: (octokit: Octokit) => Promise<T>): Promise<T> {
  try {
    return await run(client(context));
  } catch (error) {
    const failure = error as {
      status?: number;
      message?: string;
      response?: {
        headers?: Record<string, string | undefined>;
        data?: { message?: string; errors?: ({ message?: string; field?: string; code?: string } | string)[] };
      };
    };
    if (typeof failure.status !== 'number') throw error;
    const headers = failure.response?.headers ?? {};
    // A 422 says only "Validation Failed"; what failed (a pull request that already exists, a branch that does
    // not) is in its errors, which the agent needs to correct the call.
    const reasons = (failure.response?.data?.errors ?? []).map((reason) =>
      typeof reason === 'string' ? reason : (reason.message ?? [reason.field, reason.code].filter(Boolean).join(' ')),
    );
    const base = failure.response?.data?.message ?? failure.message ?? 'request failed';
    const message = reasons.length ? `${base}: ${reasons.join('; ')}` : base;
    let retryAfter: number | undefined;
    if (headers['retry-after']) retryAfter = Number(headers['retry-after']);
    else if (failure.status === 403 && headers['x-ratelimit-remaining'] === '0' && headers['x-ratelimit-reset']) {
      retryAfter = Math.max(0, Number(headers['x-ratelimit-reset']) - Math.floor(Date.now() / 1000));
    }
    throw upstreamError('GitHub', failure.status, message, retryAfter);
  }
}

/** The next page number from a Link header, or null on the last page. */
function nextPage(link: string | undefined): number | null {
  const match = link ? /<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="next"/.exec(link) : null;
  return match?.[1] ? Number(match[1]) : null;
}

const paging = {
  perPage: { type: 'integer', minimum: 1, maximum: 100, default: 30, description: 'items per page' },
  page: { type: 'integer', minimum: 1, default: 1, description: 'the page (nextPage of the previous answer)' },
};
const repoParams = {
  owner: { type: 'string', minLength: 1, maxLength: 100, description: 'the account owning the repository' },
  repo: { type: 'string', minLength: 1, maxLength: 100, description: 'the repository name' },
};

type Repo = {
  id: number;
  name: string;
  full_name: string;
  private: boolean;
  description: string | null;
  html_url: string;
  default_branch?: string;
  language?: string | null;
  stargazers_count?: number;
  updated_at?: string | null;
  owner: { login: string } | null;
};
const repo = (item: Repo) => ({
  id: item.id,
  name: item.name,
  fullName: item.full_name,
  owner: item.owner?.login ?? null,
  private: item.private,
  description: item.description,
  url: item.html_url,
  defaultBranch: item.default_branch ?? null,
  language: item.language ?? null,
  stars: item.stargazers_count ?? null,
  updatedAt: item.updated_at ?? null,
});

type Issue = {
  id: number;
  number: number;
  title: string;
  state: string;
  html_url: string;
  body?: string | null;
  user: { login: string } | null;
  labels: (string | { name?: string })[];
  comments: number;
  created_at: string;
  updated_at: string;
  pull_request?: unknown;
};
const issue = (item: Issue) => ({
  id: item.id,
  number: item.number,
  title: item.title,
  state: item.state,
  url: item.html_url,
  author: item.user?.login ?? null,
  labels: item.labels.map((label) => (typeof label === 'string' ? label : (label.name ?? ''))),
  comments: item.comments,
  body: item.body ?? null,
  isPullRequest: item.pull_request !== undefined,
  createdAt: item.created_at,
  updatedAt: item.updated_at,
});

type Branch = { ref: string; sha: string; repo?: { full_name: string } | null };
type PullRequest = {
  id: number;
  number: number;
  title: string;
  state: string;
  draft?: boolean;
  html_url: string;
  user: { login: string } | null;
  head: Branch;
  base: Branch;
  created_at: string;
  updated_at: string;
};
const pullRequest = (item: PullRequest) => ({
  id: item.id,
  number: item.number,
  title: item.title,
  state: item.state,
  draft: item.draft ?? false,
  url: item.html_url,
  author: item.user?.login ?? null,
  head: item.head.ref,
  base: item.base.ref,
  createdAt: item.created_at,
  updatedAt: item.updated_at,
});

const pullParams = {
  ...repoParams,
  pullNumber: { type: 'integer', minimum: 1, description: 'the pull request number' },
};

/** GitHub: repositories, issues, pull requests, code search and files, through GitHub's REST API (or GitHub Enterprise's). */
export const github: OfficialTool = {
  name: 'github',
  description:
    'GitHub: list and read repositories, issues, pull requests and files; search code; open issues and pull requests and comment on them',
  provider: 'GitHub',
  auth: { kind: 'oauth', provider: 'github', scopes: ['repo', 'read:user'] },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: 'a GitHub personal access token or app installation token' } },
  },
  defaultBaseUrl: 'https://api.github.com',
  actions: {
    list_repos: {
      description: "The repositories of the token's user (owned, collaborating, and through organizations)",
      parameters: {
        type: 'object',
        properties: {
          visibility: { type: 'string', enum: ['all', 'public', 'private'], default: 'all' },
          sort: { type: 'string', enum: ['created', 'updated', 'pushed', 'full_name'], default: 'full_name' },
          ...paging,
        },
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.repos.listForAuthenticatedUser({
            visibility: params.visibility as 'all' | 'public' | 'private' | undefined,
            sort: params.sort as 'created' | 'updated' | 'pushed' | 'full_name' | undefined,
            per_page: (params.perPage as number | undefined) ?? 30,
            page: (params.page as number | undefined) ?? 1,
          });
          return { repos: response.data.map(repo), nextPage: nextPage(response.headers.link) };
        }),
    },
    get_repo: {
      description: 'One repository',
      parameters: { type: 'object', properties: repoParams, required: ['owner', 'repo'], additionalProperties: false },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.repos.get({ owner: params.owner as string, repo: params.repo as string });
          return { ...repo(response.data), openIssues: response.data.open_issues_count };
        }),
    },
    list_issues: {
      description: 'Issues of a repository (pull requests are marked isPullRequest)',
      parameters: {
        type: 'object',
        properties: {
          ...repoParams,
          state: { type: 'string', enum: ['open', 'closed', 'all'], default: 'open' },
          labels: { type: 'string', description: 'comma-separated label names' },
          ...paging,
        },
        required: ['owner', 'repo'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.issues.listForRepo({
            owner: params.owner as string,
            repo: params.repo as string,
            state: params.state as 'open' | 'closed' | 'all' | undefined,
            ...(params.labels ? { labels: params.labels as string } : {}),
            per_page: (params.perPage as number | undefined) ?? 30,
            page: (params.page as number | undefined) ?? 1,
          });
          return { issues: response.data.map(issue), nextPage: nextPage(response.headers.link) };
        }),
    },
    create_issue: {
      description: 'Open an issue',
      parameters: {
        type: 'object',
        properties: {
          ...repoParams,
          title: { type: 'string', minLength: 1, maxLength: 256 },
          body: { type: 'string', maxLength: 65536 },
          labels: { type: 'array', items: { type: 'string' }, maxItems: 100 },
        },
        required: ['owner', 'repo', 'title'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.issues.create({
            owner: params.owner as string,
            repo: params.repo as string,
            title: params.title as string,
            ...(params.body !== undefined ? { body: params.body as string } : {}),
            ...(params.labels !== undefined ? { labels: params.labels as string[] } : {}),
          });
          return issue(response.data as Issue);
        }),
    },
    comment_on_issue: {
      description: 'Comment on an issue or pull request',
      parameters: {
        type: 'object',
        properties: {
          ...repoParams,
          issueNumber: { type: 'integer', minimum: 1 },
          body: { type: 'string', minLength: 1, maxLength: 65536 },
        },
        required: ['owner', 'repo', 'issueNumber', 'body'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.issues.createComment({
            owner: params.owner as string,
            repo: params.repo as string,
            issue_number: params.issueNumber as number,
            body: params.body as string,
          });
          return {
            id: response.data.id,
            url: response.data.html_url,
            author: response.data.user?.login ?? null,
            createdAt: response.data.created_at,
          };
        }),
    },
    list_pull_requests: {
      description: 'Pull requests of a repository, newest first unless sorted otherwise',
      parameters: {
        type: 'object',
        properties: {
          ...repoParams,
          state: { type: 'string', enum: ['open', 'closed', 'all'], default: 'open' },
          head: { type: 'string', maxLength: 256, description: 'only those from this branch, as user:branch' },
          base: { type: 'string', maxLength: 256, description: 'only those into this branch' },
          sort: { type: 'string', enum: ['created', 'updated', 'popularity', 'long-running'], default: 'created' },
          direction: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
          ...paging,
        },
        required: ['owner', 'repo'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.pulls.list({
            owner: params.owner as string,
            repo: params.repo as string,
            state: params.state as 'open' | 'closed' | 'all' | undefined,
            ...(params.head ? { head: params.head as string } : {}),
            ...(params.base ? { base: params.base as string } : {}),
            sort: params.sort as 'created' | 'updated' | 'popularity' | 'long-running' | undefined,
            direction: params.direction as 'asc' | 'desc' | undefined,
            per_page: (params.perPage as number | undefined) ?? 30,
            page: (params.page as number | undefined) ?? 1,
          });
          return { pullRequests: response.data.map(pullRequest), nextPage: nextPage(response.headers.link) };
        }),
    },
    get_pull_request: {
      description: 'One pull request, with its description, branches, merge state and size of change',
      parameters: {
        type: 'object',
        properties: pullParams,
        required: ['owner', 'repo', 'pullNumber'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const { data } = await octokit.rest.pulls.get({
            owner: params.owner as string,
            repo: params.repo as string,
            pull_number: params.pullNumber as number,
          });
          return {
            ...pullRequest(data),
            body: data.body,
            headSha: data.head.sha,
            headRepo: data.head.repo?.full_name ?? null,
            merged: data.merged,
            mergeable: data.mergeable,
            mergedAt: data.merged_at,
            closedAt: data.closed_at,
            commits: data.commits,
            additions: data.additions,
            deletions: data.deletions,
            changedFiles: data.changed_files,
            comments: data.comments,
          };
        }),
    },
    create_pull_request: {
      description: 'Open a pull request from a branch (head) into another (base)',
      parameters: {
        type: 'object',
        properties: {
          ...repoParams,
          title: { type: 'string', minLength: 1, maxLength: 256 },
          head: {
            type: 'string',
            minLength: 1,
            maxLength: 256,
            description: 'the branch with the changes; user:branch for a fork',
          },
          base: { type: 'string', minLength: 1, maxLength: 256, description: 'the branch to merge into' },
          body: { type: 'string', maxLength: 65536 },
          draft: { type: 'boolean', default: false },
        },
        required: ['owner', 'repo', 'title', 'head', 'base'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.pulls.create({
            owner: params.owner as string,
            repo: params.repo as string,
            title: params.title as string,
            head: params.head as string,
            base: params.base as string,
            ...(params.body !== undefined ? { body: params.body as string } : {}),
            ...(params.draft !== undefined ? { draft: params.draft as boolean } : {}),
          });
          return pullRequest(response.data);
        }),
    },
    search_code: {
      description:
        'Search code across the repositories the token can read, with GitHub search qualifiers (repo:owner/name, path:, language:, extension:)',
      parameters: {
        type: 'object',
        properties: {
          query: { type: 'string', minLength: 1, maxLength: 256, description: 'search terms and qualifiers' },
          ...paging,
        },
        required: ['query'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.search.code({
            q: params.query as string,
            per_page: (params.perPage as number | undefined) ?? 30,
            page: (params.page as number | undefined) ?? 1,
          });
          return {
            totalCount: response.data.total_count,
            incomplete: response.data.incomplete_results,
            items: response.data.items.map((item) => ({
              path: item.path,
              repository: item.repository.full_name,
              sha: item.sha,
              url: item.html_url,
            })),
            nextPage: nextPage(response.headers.link),
          };
        }),
    },
    get_file_contents: {
      description: 'A file of a repository (UTF-8 text), or the entries of a directory',
      parameters: {
        type: 'object',
        properties: {
          ...repoParams,
          path: { type: 'string', maxLength: 4096, default: '' },
          ref: { type: 'string', maxLength: 256, description: 'a branch, tag or commit; default the default branch' },
        },
        required: ['owner', 'repo'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (octokit) => {
          const response = await octokit.rest.repos.getContent({
            owner: params.owner as string,
            repo: params.repo as string,
            path: (params.path as string | undefined) ?? '',
            ...(params.ref ? { ref: params.ref as string } : {}),
          });
          const data = response.data;
          if (Array.isArray(data)) {
            return {
              type: 'dir',
              entries: data.map((entry) => ({
                name: entry.name,
                path: entry.path,
                type: entry.type,
                size: entry.size,
              })),
            };
          }
          if (data.type !== 'file' || !('content' in data)) return { type: data.type, path: data.path };
          return {
            type: 'file',
            path: data.path,
            sha: data.sha,
            size: data.size,
            content: Buffer.from(data.content, 'base64').toString('utf8'),
          };
        }),
    },
  },
};
