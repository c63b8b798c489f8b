import { type OfficialTool, type OfficialToolContext, upstreamError } from './official-tool.js';

const provider = 'X';

/** One of X's partial errors: a resource the request named that X could not return. */
type PartialError = { title?: string; detail?: string; type?: string; message?: string; value?: string };
/** X's problem+json (`{ title, detail, type, status }`), or the older `{ errors: [{ message, code }] }`. */
type Problem = { title?: string; detail?: string; type?: string; status?: number; errors?: PartialError[] };

type Tweet = { id: string; text: string; author_id?: string } & Record<string, unknown>;
type User = { id: string; name: string; username: string } & Record<string, unknown>;
type Page = {
  data?: Tweet[];
  includes?: { users?: User[] };
  errors?: PartialError[];
  meta?: { result_count?: number; next_token?: string; newest_id?: string; oldest_id?: string };
};

const problemMessage = (problem: Problem, status: number): string => {
  const first = problem.errors?.[0];
  const text = problem.detail ?? first?.detail ?? first?.message ?? problem.title ?? `HTTP ${status}`;
  // "Unauthorized: Unauthorized" says nothing more than once.
  const headline = problem.title && problem.title !== text ? `${problem.title}: ${text}` : text;
  // A 400's detail is generic ("One or more parameters … was invalid"); its errors say which and why.
  const reasons = (problem.errors ?? [])
    .map((error) => error.message ?? error.detail)
    .filter((reason): reason is string => typeof reason === 'string' && reason !== text);
  return reasons.length > 0 ? `${headline} ${reasons.slice(0, 5).join('; ')}` : headline;
};

/**
 * A partial error as the HTTP status it stands for: X answers a missing or hidden user or tweet with HTTP 200
 * and `errors` instead of `data`, typed by a problem URI.
 */
const partialStatus = (error: PartialError): number => {
  if (error.type?.endsWith('/resource-not-found')) return 404;
  if (error.type?.endsWith('/not-authorized-for-resource')) return 403;
  return 200;
};

/**
 * Calls one X API v2 endpoint under `context.baseUrl` with the user's bearer token. X sends its rate-limit
 * window with every answer; on a 429 `x-rate-limit-reset` (epoch seconds) says when the window reopens, which
 * becomes retryAfterSeconds.
 */
async function call<T>(
  context: OfficialToolContext,
  method: 'GET' | 'POST',
  path: string,
  options: { query?: Record<string, string | number | undefined>; body?: unknown } = {},
): Promise<T> {
  const url = new URL(`${context.baseUrl.replace(/\/+$/, '')}${path}`);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${context.credentials.token ?? ''}`,
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
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
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    // A refusal from a proxy in front of X (an HTML page) still says by its status what went wrong.
    if (response.ok) {
      throw upstreamError(provider, response.status, `${method} ${path} answered HTTP ${response.status} without JSON`);
    }
    body = {};
  }
  if (!response.ok) {
    let retryAfter: number | undefined;
    const reset = response.headers.get('x-rate-limit-reset');
    const retryAfterHeader = response.headers.get('retry-after');
    if (response.status === 429 && reset && /^\d+$/.test(reset)) {
      retryAfter = Math.max(0, Number(reset) - Math.floor(Date.now() / 1000));
    } else if (response.status === 429 && retryAfterHeader && /^\d+$/.test(retryAfterHeader)) {
      retryAfter = Number(retryAfterHeader);
    }
    throw upstreamError(provider, response.status, problemMessage(body as Problem, response.status), retryAfter);
  }
  return body as T;
}

/** The answer's `data`, or, when X sent only partial errors (a user or tweet it cannot show), their refusal. */
function dataOf<T>(answer: { data?: T; errors?: PartialError[] }): T {
  if (answer.data !== undefined) return answer.data;
  const first = answer.errors?.[0];
  if (!first) throw upstreamError(provider, 200, 'the answer had neither data nor errors');
  throw upstreamError(provider, partialStatus(first), first.detail ?? first.message ?? first.title ?? 'unknown error');
}

/** The tweet fields an agent can ask for beyond the ones always returned. */
const extraTweetFields = [
  'attachments',
  'conversation_id',
  'entities',
  'in_reply_to_user_id',
  'lang',
  'possibly_sensitive',
  'public_metrics',
  'referenced_tweets',
  'reply_settings',
];
const baseTweetFields = ['author_id', 'created_at'];

/**
 * The fields of a read, with the author expanded: X returns authors in `includes.users`, which lets each tweet
 * carry its author's handle instead of a bare id.
 */
const readQuery = (fields: unknown) => ({
  'tweet.fields': [...new Set([...baseTweetFields, ...((fields as string[] | undefined) ?? [])])].join(','),
  expansions: 'author_id',
  'user.fields': 'username,name',
});

/**
 * A page of tweets for an agent. Tweets keep X's own field names (those an agent asks for in `tweet_fields`),
 * plus the author's handle; partial errors (a hidden quoted tweet, a suspended author) are listed, not fatal.
 */
function page(answer: Page) {
  const users = new Map((answer.includes?.users ?? []).map((user) => [user.id, user]));
  const tweets = (answer.data ?? []).map((tweet) => {
    const author = tweet.author_id ? users.get(tweet.author_id) : undefined;
    // edit_history_tweet_ids comes with every tweet; an agent has no use for it.
    const { edit_history_tweet_ids: _history, ...fields } = tweet;
    return {
      ...fields,
      author_id: tweet.author_id ?? null,
      author_username: author?.username ?? null,
      created_at: (tweet.created_at as string | undefined) ?? null,
    };
  });
  return {
    tweets,
    resultCount: answer.meta?.result_count ?? tweets.length,
    nextToken: answer.meta?.next_token ?? null,
    ...(answer.errors && answer.errors.length > 0
      ? { partialErrors: answer.errors.map((error) => error.detail ?? error.message ?? error.title ?? 'unknown error') }
      : {}),
  };
}

const tweetId = { type: 'string', pattern: '^[0-9]{1,19}$' };
const tweetFields = {
  type: 'array',
  items: { type: 'string', enum: extraTweetFields },
  uniqueItems: true,
  maxItems: extraTweetFields.length,
  description: 'extra tweet fields to return (id, text, author_id and created_at always come)',
};

/** X (Twitter): post tweets, search recent ones, read a user's timeline, through X API v2 as the signed-in user. */
export const xTwitter: OfficialTool = {
  name: 'x-twitter',
  description: 'X (Twitter): post tweets and replies, search recent tweets, read user timelines and the own profile',
  provider: 'X',
  auth: { kind: 'oauth', provider: 'x', scopes: ['tweet.read', 'tweet.write', 'users.read', 'offline.access'] },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: 'an OAuth 2.0 user-context access token of X' } },
  },
  defaultBaseUrl: 'https://api.x.com',
  actions: {
    post_tweet: {
      description: 'Post a tweet as the signed-in user: a new tweet, a reply, or a quote of another tweet',
      parameters: {
        type: 'object',
        properties: {
          // X counts 280 weighted characters for most accounts (more for paid ones) and says so when over.
          text: { type: 'string', minLength: 1, maxLength: 25_000 },
          reply_to: { ...tweetId, description: 'the id of the tweet this one replies to' },
          quote_tweet_id: { ...tweetId, description: 'the id of the tweet this one quotes' },
        },
        required: ['text'],
        additionalProperties: false,
      },
      execute: async (params, context) => {
        const answer = await call<{ data: { id: string; text: string } }>(context, 'POST', '/2/tweets', {
          body: {
            text: params.text,
            ...(params.reply_to ? { reply: { in_reply_to_tweet_id: params.reply_to } } : {}),
            ...(params.quote_tweet_id ? { quote_tweet_id: params.quote_tweet_id } : {}),
          },
        });
        const tweet = dataOf(answer);
        return { id: tweet.id, text: tweet.text };
      },
    },
    search_recent: {
      description:
        'Search tweets of the last seven days with X search operators (from:user, #tag, "phrase", -is:retweet, lang:en), newest first',
      parameters: {
        type: 'object',
        properties: {
          query: { type: 'string', minLength: 1, maxLength: 512 },
          max_results: { type: 'integer', minimum: 10, maximum: 100, default: 10 },
          next_token: { type: 'string', minLength: 1, maxLength: 256, description: 'nextToken of the previous page' },
          tweet_fields: tweetFields,
        },
        required: ['query'],
        additionalProperties: false,
      },
      execute: async (params, context) =>
        page(
          await call<Page>(context, 'GET', '/2/tweets/search/recent', {
            query: {
              query: params.query as string,
              max_results: params.max_results as number,
              next_token: params.next_token as string | undefined,
              ...readQuery(params.tweet_fields),
            },
          }),
        ),
    },
    get_user_timeline: {
      description: "A user's tweets, newest first, by user id or username",
      parameters: {
        type: 'object',
        properties: {
          user_id: { type: 'string', pattern: '^[0-9]{1,19}$' },
          username: { type: 'string', pattern: '^@?[A-Za-z0-9_]{1,15}$', description: 'the handle, with or without @' },
          max_results: { type: 'integer', minimum: 5, maximum: 100, default: 10 },
          pagination_token: {
            type: 'string',
            minLength: 1,
            maxLength: 256,
            description: 'nextToken of the previous page',
          },
          exclude: {
            type: 'array',
            items: { type: 'string', enum: ['replies', 'retweets'] },
            uniqueItems: true,
            maxItems: 2,
          },
          tweet_fields: tweetFields,
        },
        oneOf: [{ required: ['user_id'] }, { required: ['username'] }],
        additionalProperties: false,
      },
      execute: async (params, context) => {
        let userId = params.user_id as string | undefined;
        if (!userId) {
          const username = (params.username as string).replace(/^@/, '');
          const answer = await call<{ data?: User; errors?: PartialError[] }>(
            context,
            'GET',
            `/2/users/by/username/${encodeURIComponent(username)}`,
          );
          userId = dataOf(answer).id;
        }
        const exclude = params.exclude as string[] | undefined;
        const answer = await call<Page>(context, 'GET', `/2/users/${userId}/tweets`, {
          query: {
            max_results: params.max_results as number,
            pagination_token: params.pagination_token as string | undefined,
            ...(exclude && exclude.length > 0 ? { exclude: exclude.join(',') } : {}),
            ...readQuery(params.tweet_fields),
          },
        });
        // A user X cannot show (unknown, suspended, protected) comes back as errors without data or meta.
        if (answer.data === undefined && answer.meta === undefined) dataOf(answer);
        return { userId, ...page(answer) };
      },
    },
    get_me: {
      description: 'The signed-in user: id, name and username',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
      execute: async (_params, context) => {
        const user = dataOf(await call<{ data?: User; errors?: PartialError[] }>(context, 'GET', '/2/users/me'));
        return { id: user.id, name: user.name, username: user.username };
      },
    },
  },
};
