import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for LinkedIn's API on loopback, for what the linkedin tool calls: `GET /v2/userinfo` (OpenID
 * Connect, needs the openid and profile scopes; email with the email scope) and `POST /rest/posts` (the versioned
 * Posts API, needs w_member_social). It speaks LinkedIn's wire format: Bearer tokens (401 INVALID_ACCESS_TOKEN
 * otherwise), `{ status, serviceErrorCode, code, message }` errors, the `LinkedIn-Version: YYYYMM` header (400
 * VERSION_MISSING without it, 426 NONEXISTENT_VERSION for a month outside the last twelve), the
 * `X-Restli-Protocol-Version: 2.0.0` header, Rest.li's 422 `ERROR :: /field :: …` for a body off the Post schema,
 * 403 ACCESS_DENIED for an author other than the token's member, and the new post's URN in `x-restli-id` on an
 * empty 201. Unknown paths get LinkedIn's 404 `No virtual resource found`. Posts are kept, with their commentary
 * rendered from LinkedIn's "little text" (escapes removed; an unescaped reserved character cuts the text there,
 * as LinkedIn's feed does).
 */
export interface LinkedInServer {
  url: string;
  /** A token with openid, profile, email and w_member_social. */
  token: string;
  /** A token with openid and profile only: no email in userinfo, and 403 on posting. */
  profileOnlyToken: string;
  member: { sub: string; name: string; given_name: string; family_name: string; email: string; picture: string };
  requests: LinkedInRequest[];
  posts: StoredPost[];
  /** The next request to `path` (e.g. `/rest/posts`) answers this instead, whatever it is. */
  fail(path: string, status: number, body: unknown, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export interface LinkedInRequest {
  method: string;
  pathname: string;
  authorization: string | undefined;
  contentType: string | undefined;
  linkedInVersion: string | undefined;
  restliProtocolVersion: string | undefined;
  body: unknown;
}

export interface StoredPost {
  id: string;
  author: string;
  /** The commentary as sent (little text). */
  commentary: string;
  /** What the feed shows. */
  text: string;
  visibility: string;
  lifecycleState: string;
  isReshareDisabledByAuthor: boolean;
  createdAt: number;
}

class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

const error = (status: number, message: string, code?: string, serviceErrorCode?: number) =>
  new Answer(status, {
    status,
    ...(serviceErrorCode !== undefined ? { serviceErrorCode } : {}),
    ...(code ? { code } : {}),
    message,
  });
/** Rest.li's schema validation failure, one line per offending field. */
const invalid = (path: string, problem: string) =>
  new Answer(422, { message: `ERROR :: ${path} :: ${problem}\n`, status: 422 });

/** The feed's reading of little text: `\x` is a literal x; an unescaped reserved character ends the text. */
export function renderLittleText(commentary: string): string {
  let out = '';
  for (let index = 0; index < commentary.length; index++) {
    const character = commentary[index] ?? '';
    if (character === '\\') {
      out += commentary[index + 1] ?? '';
      index++;
    } else if ('|{}@[]()<>#*_~'.includes(character)) {
      break;
    } else {
      out += character;
    }
  }
  return out;
}

/** Months (YYYYMM) LinkedIn serves: the twelve up to this one. */
function activeVersions(today: Date): Set<string> {
  const versions = new Set<string>();
  for (let back = 0; back < 12; back++) {
    const month = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - back, 1));
    versions.add(`${month.getUTCFullYear()}${String(month.getUTCMonth() + 1).padStart(2, '0')}`);
  }
  return versions;
}

export async function startLinkedInServer(): Promise<LinkedInServer> {
  const token = `AQV${randomBytes(48).toString('base64url')}`;
  const profileOnlyToken = `AQV${randomBytes(48).toString('base64url')}`;
  const scopes = new Map([
    [token, new Set(['openid', 'profile', 'email', 'w_member_social'])],
    [profileOnlyToken, new Set(['openid', 'profile'])],
  ]);
  const member = {
    sub: 'dXJuOmxpOnBlcnNvbjp4WTRr',
    name: 'Ada Lovelace',
    given_name: 'Ada',
    family_name: 'Lovelace',
    email: 'ada@example.com',
    picture: 'https://media.licdn.com/dms/image/v2/ada/profile-displayphoto-shrink_100_100/0/1',
  };
  const requests: LinkedInRequest[] = [];
  const posts: StoredPost[] = [];
  const failures: { path: string; answer: Answer }[] = [];
  let nextShare = 7_270_000_000_000_000_000n;

  const userinfo = (granted: Set<string>): Answer => {
    if (!granted.has('openid') || !granted.has('profile')) {
      return error(403, 'Not enough permissions to access: userinfo.GET.NO_VERSION', 'ACCESS_DENIED', 100);
    }
    return new Answer(200, {
      sub: member.sub,
      email_verified: granted.has('email') ? true : undefined,
      name: member.name,
      locale: { country: 'GB', language: 'en' },
      given_name: member.given_name,
      family_name: member.family_name,
      email: granted.has('email') ? member.email : undefined,
      picture: member.picture,
    });
  };

  const createPost = (request: IncomingMessage, body: unknown, malformed: boolean, granted: Set<string>): Answer => {
    const version = request.headers['linkedin-version'];
    if (version === undefined || version === '') {
      return error(
        400,
        'A version must be present. Please specify a version by adding the LinkedIn-Version header.',
        'VERSION_MISSING',
      );
    }
    if (typeof version !== 'string' || !activeVersions(new Date()).has(version)) {
      return error(426, `Requested version ${String(version)} is not active`, 'NONEXISTENT_VERSION');
    }
    if (request.headers['x-restli-protocol-version'] !== '2.0.0') {
      return error(
        400,
        'Unsupported Rest.li protocol version: send X-Restli-Protocol-Version: 2.0.0',
        'ILLEGAL_ARGUMENT',
        100,
      );
    }
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) {
      return error(415, `Unsupported content type: ${request.headers['content-type'] ?? '(none)'}`);
    }
    if (malformed || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return error(400, 'Unable to parse the request body as JSON', 'ILLEGAL_ARGUMENT', 100);
    }
    const post = body as Record<string, unknown>;
    const known = [
      'author',
      'commentary',
      'visibility',
      'distribution',
      'lifecycleState',
      'isReshareDisabledByAuthor',
      'content',
      'contentLandingPage',
      'contentCallToActionLabel',
      'container',
      'reshareContext',
      'adContext',
    ];
    for (const key of Object.keys(post)) {
      if (!known.includes(key)) return invalid(`/${key}`, 'unrecognized field found but not allowed');
    }
    for (const key of ['author', 'commentary', 'visibility', 'distribution', 'lifecycleState']) {
      if (post[key] === undefined)
        return invalid(`/${key}`, 'field is required but not found and has no default value');
    }
    if (typeof post.author !== 'string' || !/^urn:li:(person|organization):[A-Za-z0-9_-]+$/.test(post.author)) {
      return invalid('/author', `"${String(post.author)}" is not a valid Urn`);
    }
    if (typeof post.commentary !== 'string') return invalid('/commentary', 'is not a string');
    if (post.commentary.length > 3000) return invalid('/commentary', 'length is greater than 3000');
    if (
      typeof post.visibility !== 'string' ||
      !['PUBLIC', 'CONNECTIONS', 'LOGGED_IN', 'CONTAINER'].includes(post.visibility)
    ) {
      return invalid('/visibility', `"${String(post.visibility)}" is not an enum symbol`);
    }
    const distribution = post.distribution as Record<string, unknown> | null;
    if (typeof distribution !== 'object' || distribution === null || Array.isArray(distribution)) {
      return invalid('/distribution', 'is not a record');
    }
    for (const key of Object.keys(distribution)) {
      if (!['feedDistribution', 'targetEntities', 'thirdPartyDistributionChannels'].includes(key)) {
        return invalid(`/distribution/${key}`, 'unrecognized field found but not allowed');
      }
    }
    if (!['MAIN_FEED', 'NONE'].includes(String(distribution.feedDistribution))) {
      return invalid(
        '/distribution/feedDistribution',
        `"${String(distribution.feedDistribution)}" is not an enum symbol`,
      );
    }
    for (const key of ['targetEntities', 'thirdPartyDistributionChannels']) {
      if (distribution[key] !== undefined && !Array.isArray(distribution[key])) {
        return invalid(`/distribution/${key}`, 'is not an array');
      }
    }
    if (!['PUBLISHED', 'DRAFT'].includes(String(post.lifecycleState))) {
      return invalid('/lifecycleState', `"${String(post.lifecycleState)}" is not an enum symbol`);
    }
    if (post.isReshareDisabledByAuthor !== undefined && typeof post.isReshareDisabledByAuthor !== 'boolean') {
      return invalid('/isReshareDisabledByAuthor', 'is not a boolean');
    }
    // A member token posts as that member only, and only with w_member_social.
    if (!granted.has('w_member_social') || post.author !== `urn:li:person:${member.sub}`) {
      return error(
        403,
        `Not enough permissions to access: partnerApiPostsExternal.CREATE.${version}01`,
        'ACCESS_DENIED',
        100,
      );
    }
    const duplicate = posts.find((entry) => entry.author === post.author && entry.commentary === post.commentary);
    if (duplicate) return invalid('', `Content is a duplicate of ${duplicate.id}`);
    nextShare += BigInt(1 + Math.floor(Math.random() * 1000));
    const id = `urn:li:share:${nextShare}`;
    posts.push({
      id,
      author: post.author,
      commentary: post.commentary,
      text: renderLittleText(post.commentary),
      visibility: post.visibility,
      lifecycleState: String(post.lifecycleState),
      isReshareDisabledByAuthor: post.isReshareDisabledByAuthor === true,
      createdAt: Date.now(),
    });
    return new Answer(201, undefined, { 'x-restli-id': id, 'x-linkedin-id': id });
  };

  const handle = (request: IncomingMessage, raw: Buffer): Answer => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    let body: unknown;
    let malformed = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        malformed = true;
      }
    }
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    requests.push({
      method: request.method ?? '',
      pathname: url.pathname,
      authorization: header('authorization'),
      contentType: header('content-type'),
      linkedInVersion: header('linkedin-version'),
      restliProtocolVersion: header('x-restli-protocol-version'),
      body: malformed ? raw.toString('utf8') : body,
    });
    const forced = failures.findIndex((entry) => entry.path === url.pathname);
    if (forced >= 0) {
      const [failure] = failures.splice(forced, 1);
      if (failure) return failure.answer;
    }
    const route =
      request.method === 'GET' && url.pathname === '/v2/userinfo'
        ? 'userinfo'
        : request.method === 'POST' && url.pathname === '/rest/posts'
          ? 'posts'
          : undefined;
    if (!route) return error(404, 'No virtual resource found', 'NOT_FOUND', 0);
    const given = /^Bearer (.+)$/.exec(header('authorization') ?? '')?.[1];
    const granted = given ? scopes.get(given) : undefined;
    if (!granted) return error(401, 'Invalid access token', 'INVALID_ACCESS_TOKEN', 65600);
    return route === 'userinfo' ? userinfo(granted) : createPost(request, body, malformed, granted);
  };

  const send = (response: ServerResponse, answer: Answer) => {
    const headers: Record<string, string> = { 'x-li-responseorigin': 'RGW', ...answer.headers };
    if (answer.body === undefined) {
      response.writeHead(answer.status, headers);
      response.end();
      return;
    }
    response.writeHead(answer.status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(answer.body));
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        send(response, handle(request, Buffer.concat(chunks)));
      } catch {
        send(response, error(500, 'Internal Server Error'));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    profileOnlyToken,
    member,
    requests,
    posts,
    fail(path, status, body, headers = {}) {
      failures.push({ path, answer: new Answer(status, body, headers) });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
