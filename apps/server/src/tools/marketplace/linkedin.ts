import { type OfficialTool, type OfficialToolContext, upstreamError } from './official-tool.js';

const provider = 'LinkedIn';

/**
 * The version of LinkedIn's versioned API (`/rest/…`) this tool speaks. LinkedIn keeps a version for at least a
 * year, then answers 426 NONEXISTENT_VERSION: move it forward before then, checking the Posts API changelog.
 */
export const linkedInVersion = '202610';

/** LinkedIn's error body: `{ status, serviceErrorCode, code, message }` (some answers carry only status and message). */
type LinkedInError = { status?: number; serviceErrorCode?: number; code?: string; message?: string };

/** The OpenID Connect userinfo of the token's member. LinkedIn sends locale as `{ country, language }`. */
type UserInfo = {
  sub: string;
  name?: string;
  given_name?: string;
  family_name?: string;
  email?: string;
  email_verified?: boolean;
  picture?: string;
  locale?: string | { country?: string; language?: string };
};

/**
 * Sends one request under `context.baseUrl` with the member's bearer token and returns the raw response when it
 * succeeded; LinkedIn's refusals become tool errors with its own message and code. A Retry-After, when
 * LinkedIn sends one with a 429, becomes retryAfterSeconds.
 */
async function request(
  context: OfficialToolContext,
  method: 'GET' | 'POST',
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${context.baseUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${context.credentials.token ?? ''}`,
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw upstreamError(
      provider,
      undefined,
      `${method} ${path} got no answer: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  if (response.ok) return response;
  const text = await response.text();
  let body: LinkedInError = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as LinkedInError);
  } catch {
    // A proxy's HTML page in front of LinkedIn: the status says enough.
  }
  const message = body.message ?? `HTTP ${response.status}`;
  const retryAfterHeader = response.headers.get('retry-after');
  const retryAfter =
    response.status === 429 && retryAfterHeader && /^\d+$/.test(retryAfterHeader)
      ? Number(retryAfterHeader)
      : undefined;
  throw upstreamError(provider, response.status, body.code ? `${message} (${body.code})` : message, retryAfter);
}

async function userInfo(context: OfficialToolContext): Promise<UserInfo> {
  const response = await request(context, 'GET', '/v2/userinfo');
  const body = (await response.json()) as UserInfo;
  if (typeof body.sub !== 'string' || body.sub === '') {
    throw upstreamError(provider, response.status, 'userinfo answered without the member id (sub)');
  }
  return body;
}

/** `en_US` from LinkedIn's `{ language: 'en', country: 'US' }`, as LinkedIn writes locales elsewhere. */
const locale = (value: UserInfo['locale']): string | null => {
  if (typeof value === 'string') return value;
  if (!value?.language) return null;
  return value.country ? `${value.language}_${value.country}` : value.language;
};

/**
 * Post commentary is LinkedIn's "little text": `@`, `#`, brackets and a few more start mentions, hashtags and
 * templates, and an unescaped one can cut the post short. Escaping them posts the text as written.
 */
const littleText = (text: string) => text.replace(/[\\|{}@[\]()<>#*_~]/g, (character) => `\\${character}`);

/** LinkedIn: the signed-in member's profile, and posts to their feed, through LinkedIn's REST API. */
export const linkedin: OfficialTool = {
  name: 'linkedin',
  description: "LinkedIn: read the signed-in member's profile and publish text posts to their feed",
  provider: 'LinkedIn',
  auth: { kind: 'oauth', provider: 'linkedin', scopes: ['openid', 'profile', 'email', 'w_member_social'] },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: "a LinkedIn member's OAuth 2.0 access token" } },
  },
  defaultBaseUrl: 'https://api.linkedin.com',
  actions: {
    get_profile: {
      description: 'The signed-in member (OpenID Connect userinfo): member id (sub), name, email, picture, locale',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
      execute: async (_params, context) => {
        const member = await userInfo(context);
        return {
          sub: member.sub,
          personUrn: `urn:li:person:${member.sub}`,
          name: member.name ?? null,
          given_name: member.given_name ?? null,
          family_name: member.family_name ?? null,
          email: member.email ?? null,
          email_verified: member.email_verified ?? null,
          picture: member.picture ?? null,
          locale: locale(member.locale),
        };
      },
    },
    create_post: {
      description:
        "Publish a text post to the signed-in member's feed, seen by everyone (PUBLIC) or their connections (CONNECTIONS)",
      parameters: {
        type: 'object',
        properties: {
          text: { type: 'string', minLength: 1, maxLength: 3000 },
          visibility: { type: 'string', enum: ['PUBLIC', 'CONNECTIONS'], default: 'PUBLIC' },
        },
        required: ['text'],
        additionalProperties: false,
      },
      execute: async (params, context) => {
        // A post's author is the member's person URN; the token alone does not name it.
        const member = await userInfo(context);
        const author = `urn:li:person:${member.sub}`;
        const response = await request(context, 'POST', '/rest/posts', {
          headers: { 'LinkedIn-Version': linkedInVersion, 'X-Restli-Protocol-Version': '2.0.0' },
          body: {
            author,
            commentary: littleText(params.text as string),
            visibility: params.visibility,
            distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
            lifecycleState: 'PUBLISHED',
            isReshareDisabledByAuthor: false,
          },
        });
        const id = response.headers.get('x-restli-id');
        // LinkedIn answers 201 with an empty body; reading it frees the connection.
        await response.text();
        if (!id) throw upstreamError(provider, response.status, 'the post was accepted without an id (x-restli-id)');
        return {
          id,
          author,
          visibility: params.visibility,
          url: `https://www.linkedin.com/feed/update/${id}/`,
        };
      },
    },
  },
};
