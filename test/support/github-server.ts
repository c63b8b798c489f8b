import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for GitHub's REST API on loopback, speaking its wire format (paths, `token`/`Bearer` auth,
 * Link pagination, rate-limit headers, `{ message, documentation_url }` errors) for the endpoints the github
 * tool calls. One token is valid; `rate-limited` gets GitHub's secondary-limit 403; anything else a 401.
 */
export interface GithubServer {
  url: string;
  token: string;
  /** Every request as it arrived: method, path with query, the authorization header. */
  requests: { method: string; path: string; authorization: string | undefined }[];
  issues: { number: number; title: string; body: string | null; labels: string[] }[];
  close(): Promise<void>;
}

const repos = Array.from({ length: 3 }, (_, index) => ({
  id: 1000 + index,
  name: `repo-${index}`,
  full_name: `octo/repo-${index}`,
  private: index === 2,
  description: `repository ${index}`,
  html_url: `https://github.com/octo/repo-${index}`,
  default_branch: 'main',
  language: 'TypeScript',
  stargazers_count: index * 10,
  updated_at: '2026-11-01T00:00:00Z',
  open_issues_count: 1,
  owner: { login: 'octo', id: 1, type: 'User' },
}));

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

export async function startGithubServer(): Promise<GithubServer> {
  const token = 'ghp_testtoken0123456789';
  const state: GithubServer['issues'] = [];
  const requests: GithubServer['requests'] = [];
  let base = '';
  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      requests.push({
        method: request.method ?? '',
        path: url.pathname + url.search,
        authorization: request.headers.authorization,
      });
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        response.end(JSON.stringify(body));
      };
      const given = /^(?:token|Bearer) (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (given === 'rate-limited') {
        return send(
          403,
          { message: 'API rate limit exceeded for user ID 1.', documentation_url: 'https://docs.github.com/rest' },
          { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60) },
        );
      }
      if (given !== token) {
        return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      }
      const path = url.pathname;
      if (request.method === 'GET' && path === '/user/repos') {
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        const page = Number(url.searchParams.get('page') ?? 1);
        const slice = repos.slice((page - 1) * perPage, page * perPage);
        const last = Math.ceil(repos.length / perPage);
        const link =
          page < last
            ? `<${base}/user/repos?per_page=${perPage}&page=${page + 1}>; rel="next", <${base}/user/repos?per_page=${perPage}&page=${last}>; rel="last"`
            : undefined;
        return send(200, slice, link ? { link } : {});
      }
      const repoMatch = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
      const found = repoMatch && repos.find((repo) => repo.full_name === `${repoMatch[1]}/${repoMatch[2]}`);
      if (!repoMatch || !found)
        return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
      const rest = repoMatch[3] ?? '';
      const issueJson = (issue: GithubServer['issues'][number]) => ({
        id: 5000 + issue.number,
        number: issue.number,
        title: issue.title,
        body: issue.body,
        state: 'open',
        html_url: `https://github.com/${found.full_name}/issues/${issue.number}`,
        user: { login: 'octo' },
        labels: issue.labels.map((name) => ({ name })),
        comments: 0,
        created_at: '2026-11-02T00:00:00Z',
        updated_at: '2026-11-02T00:00:00Z',
      });
      if (request.method === 'GET' && rest === '') return send(200, found);
      if (request.method === 'GET' && rest === '/issues') return send(200, state.map(issueJson));
      if (request.method === 'POST' && rest === '/issues') {
        const body = (await readBody(request)) as { title?: unknown; body?: unknown; labels?: unknown };
        if (typeof body?.title !== 'string') return send(422, { message: 'Validation Failed' });
        const issue = {
          number: state.length + 1,
          title: body.title,
          body: typeof body.body === 'string' ? body.body : null,
          labels: Array.isArray(body.labels) ? (body.labels as string[]) : [],
        };
        state.push(issue);
        return send(201, issueJson(issue));
      }
      const contents = /^\/contents\/?(.*)$/.exec(rest);
      if (request.method === 'GET' && contents) {
        const file = decodeURIComponent(contents[1] ?? '');
        if (file === 'README.md') {
          return send(200, {
            type: 'file',
            name: 'README.md',
            path: 'README.md',
            sha: 'abc123',
            size: 11,
            encoding: 'base64',
            content: Buffer.from('hello world').toString('base64'),
          });
        }
        return send(404, { message: 'Not Found' });
      }
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    })().catch(() => {
      response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    token,
    requests,
    issues: state,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
