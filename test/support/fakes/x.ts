import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for X API v2 on loopback, for the endpoints the x-twitter tool calls: `POST /2/tweets`,
 * `GET /2/tweets/search/recent`, `GET /2/users/{id}/tweets`, `GET /2/users/by/username/{username}` and
 * `GET /2/users/me`. It speaks X's wire format: OAuth 2.0 user-context Bearer tokens (X's problem+json 401
 * otherwise, 403 for a write without the tweet.write scope), the query parameters each endpoint documents with
 * X's own 400 `invalid-request` for an unknown parameter or a value off its bounds (max_results 10..100 for
 * search and 5..100 for timelines, a query of 1..512 characters, known tweet.fields / expansions /
 * user.fields), opaque next_token / pagination_token paging, `includes.users` for `expansions=author_id`,
 * partial errors in a 200 for a user it cannot show, and `x-rate-limit-limit / -remaining / -reset` on every
 * answer, with X's 429 when a window is spent. Unknown paths get X's `Sorry, that page does not exist`.
 * Posted tweets are kept: search and timelines find them.
 */
export interface XServer {
  url: string;
  /** The access token of `me`, with tweet.read, tweet.write, users.read and offline.access. */
  token: string;
  /** A token of `me` granted tweet.read and users.read only: writes get 403. */
  readOnlyToken: string;
  me: XUser;
  /** The accounts it knows, by handle: `me`, `xdevelopers`, `ann` and `protectedUser` (whose tweets X withholds). */
  users: Record<'me' | 'xdevelopers' | 'ann' | 'protectedUser', XUser>;
  requests: XRequest[];
  /** Every tweet, oldest first (posted through the API or by `seed`). */
  tweets: StoredTweet[];
  /** Adds a tweet by some user, `ageSeconds` old. */
  seed(author: XUser, text: string, ageSeconds?: number): StoredTweet;
  /** Spends the rate-limit window of `route` (e.g. `GET /2/users/me`) until `resetInSeconds` from now. */
  exhaust(route: string, resetInSeconds: number): { reset: number };
  /** Opens a fresh window for `route`, as if the spent one had reset. */
  refill(route: string): void;
  /** The next request to `path` (e.g. `/2/users/me`) answers this instead, whatever it is. */
  fail(path: string, status: number, body: unknown, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export interface XUser {
  id: string;
  name: string;
  username: string;
  protected: boolean;
}

export interface StoredTweet {
  id: string;
  text: string;
  author_id: string;
  created_at: string;
  conversation_id: string;
  lang: string;
  in_reply_to_user_id?: string;
  referenced_tweets?: { type: 'replied_to' | 'quoted'; id: string }[];
}

export interface XRequest {
  method: string;
  pathname: string;
  /** Query parameters, decoded. */
  query: Record<string, string>;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

/** What an answer is made of, thrown from a handler: status, body, extra headers. */
class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

const problemType = (name: string) => `https://api.twitter.com/2/problems/${name}`;

/** X's 400 for query parameters: one entry per offending parameter, with its value. */
const invalidRequest = (errors: { parameters?: Record<string, string[]>; message: string }[]) =>
  new Answer(400, {
    errors,
    title: 'Invalid Request',
    detail: 'One or more parameters to your request was invalid.',
    type: problemType('invalid-request'),
  });
const invalidParameter = (name: string, value: string, message: string) =>
  invalidRequest([{ parameters: { [name]: [value] }, message }]);
const forbidden = (detail: string) => new Answer(403, { detail, type: 'about:blank', title: 'Forbidden', status: 403 });

const tweetFieldNames = [
  'article',
  'attachments',
  'author_id',
  'card_uri',
  'community_id',
  'context_annotations',
  'conversation_id',
  'created_at',
  'display_text_range',
  'edit_controls',
  'edit_history_tweet_ids',
  'entities',
  'geo',
  'id',
  'in_reply_to_user_id',
  'lang',
  'media_metadata',
  'non_public_metrics',
  'note_tweet',
  'organic_metrics',
  'possibly_sensitive',
  'promoted_metrics',
  'public_metrics',
  'referenced_tweets',
  'reply_settings',
  'scopes',
  'source',
  'text',
  'withheld',
];
const userFieldNames = [
  'affiliation',
  'connection_status',
  'created_at',
  'description',
  'entities',
  'id',
  'location',
  'most_recent_tweet_id',
  'name',
  'pinned_tweet_id',
  'profile_banner_url',
  'profile_image_url',
  'protected',
  'public_metrics',
  'receives_your_dm',
  'subscription_type',
  'url',
  'username',
  'verified',
  'verified_type',
  'withheld',
];
const tweetExpansions = [
  'article.cover_media',
  'article.media_entities',
  'attachments.media_keys',
  'attachments.media_source_tweet',
  'attachments.poll_ids',
  'author_id',
  'edit_history_tweet_ids',
  'entities.mentions.username',
  'geo.place_id',
  'in_reply_to_user_id',
  'entities.note.mentions.username',
  'referenced_tweets.id',
  'referenced_tweets.id.attachments.media_keys',
  'referenced_tweets.id.author_id',
];
const fieldParameters = ['media.fields', 'place.fields', 'poll.fields'];
/** The POST /2/tweets body's top-level fields, from its request schema. */
const tweetBodyFields = new Set([
  'card_uri',
  'community_id',
  'direct_message_deep_link',
  'edit_options',
  'for_super_followers_only',
  'geo',
  'made_with_ai',
  'media',
  'nullcast',
  'paid_partnership',
  'poll',
  'quote_tweet_id',
  'reply',
  'reply_settings',
  'share_with_followers',
  'text',
]);
/** Requests per 15-minute window for a user context token, per endpoint. */
const windows: Record<string, number> = {
  'POST /2/tweets': 100,
  'GET /2/tweets/search/recent': 300,
  'GET /2/users/:id/tweets': 900,
  'GET /2/users/by/username/:username': 900,
  'GET /2/users/me': 75,
};

export async function startXServer(): Promise<XServer> {
  const token = randomBytes(32).toString('base64url');
  const readOnlyToken = randomBytes(32).toString('base64url');
  const users = {
    me: { id: '1861234567890123456', name: 'RunTools Bot', username: 'runtools_bot', protected: false },
    xdevelopers: { id: '2244994945', name: 'Developers', username: 'XDevelopers', protected: false },
    ann: { id: '1400000000000000001', name: 'Ann Builds', username: 'ann_builds', protected: false },
    protectedUser: { id: '1400000000000000002', name: 'Pat', username: 'private_pat', protected: true },
  };
  const requests: XRequest[] = [];
  const tweets: StoredTweet[] = [];
  const failures: { path: string; answer: Answer }[] = [];
  const limits = new Map<string, { remaining: number; reset: number }>();
  /** Issued paging tokens: what they continue, and below which tweet id. */
  const cursors = new Map<string, { scope: string; belowId: bigint }>();
  let sequence = 0n;

  const now = () => Math.floor(Date.now() / 1000);
  const store = (author: XUser, text: string, createdAt: Date, extra: Partial<StoredTweet> = {}): StoredTweet => {
    // A snowflake, as X's ids are: milliseconds since X's epoch, then a sequence, so ids sort by time.
    sequence = (sequence + 1n) % 4096n;
    const id = String(((BigInt(createdAt.getTime()) - 1_288_834_974_657n) << 22n) | sequence);
    const tweet: StoredTweet = {
      id,
      text,
      author_id: author.id,
      created_at: createdAt.toISOString().replace(/\.\d{3}Z$/, '.000Z'),
      conversation_id: id,
      lang: /^[\x20-\x7e\s]*$/.test(text) ? 'en' : 'und',
      ...extra,
    };
    tweets.push(tweet);
    return tweet;
  };
  const seed: XServer['seed'] = (author, text, ageSeconds = 3600) =>
    store(author, text, new Date(Date.now() - ageSeconds * 1000));
  seed(users.xdevelopers, 'Announcing new endpoints for the X API v2 #XAPI', 6 * 3600);
  seed(users.ann, 'Shipping my first agent with the X API today', 5 * 3600);
  seed(users.xdevelopers, 'Reminder: recent search covers the last seven days #XAPI', 4 * 3600);
  seed(users.ann, 'Coffee first, then code', 3 * 3600);
  seed(users.protectedUser, 'Only my followers read this #XAPI', 2 * 3600);
  // Older than recent search's seven days: only the timeline shows it.
  seed(users.xdevelopers, 'An old announcement about the X API #XAPI', 10 * 24 * 3600);

  const userById = (id: string) => Object.values(users).find((user) => user.id === id);
  const userByName = (name: string) =>
    Object.values(users).find((user) => user.username.toLowerCase() === name.toLowerCase());

  /** Checks a request's query against the parameters the endpoint documents. */
  const checkQuery = (query: Record<string, string>, allowed: string[], expansions: string[]) => {
    for (const name of Object.keys(query)) {
      if (!allowed.includes(name)) {
        throw invalidParameter(
          name,
          query[name] ?? '',
          `The query parameter [${name}] is not one of [${allowed.join(',')}]`,
        );
      }
    }
    const lists: [string, string[]][] = [
      ['tweet.fields', tweetFieldNames],
      ['user.fields', userFieldNames],
      ['expansions', expansions],
    ];
    for (const [name, known] of lists) {
      const value = query[name];
      if (value === undefined) continue;
      for (const item of value.split(',')) {
        if (!known.includes(item)) {
          throw invalidParameter(
            name,
            item,
            `The \`${name}\` query parameter value [${item}] is not one of [${known.join(',')}]`,
          );
        }
      }
    }
  };
  const integer = (query: Record<string, string>, name: string, min: number, max: number, fallback: number) => {
    const raw = query[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw invalidParameter(
        name,
        raw,
        `The \`${name}\` query parameter value [${raw}] is not between ${min} and ${max}`,
      );
    }
    return value;
  };

  /** A tweet as X returns it: id, text and edit_history_tweet_ids always, the rest when tweet.fields asks. */
  const render = (tweet: StoredTweet, fields: string[]) => {
    const out: Record<string, unknown> = { id: tweet.id, text: tweet.text, edit_history_tweet_ids: [tweet.id] };
    for (const field of fields) {
      if (field === 'public_metrics') {
        const replies = tweets.filter((other) =>
          other.referenced_tweets?.some((ref) => ref.type === 'replied_to' && ref.id === tweet.id),
        ).length;
        const quotes = tweets.filter((other) =>
          other.referenced_tweets?.some((ref) => ref.type === 'quoted' && ref.id === tweet.id),
        ).length;
        out.public_metrics = {
          retweet_count: 0,
          reply_count: replies,
          like_count: 0,
          quote_count: quotes,
          bookmark_count: 0,
          impression_count: 0,
        };
      } else if (field in tweet) {
        out[field] = tweet[field as keyof StoredTweet];
      }
    }
    return out;
  };
  const renderUser = (user: XUser, fields: string[]) => {
    const out: Record<string, unknown> = { id: user.id, name: user.name, username: user.username };
    if (fields.includes('protected')) out.protected = user.protected;
    return out;
  };

  /** One page of tweets, newest first, continuing a cursor; with authors in includes when asked. */
  const pageOf = (
    scope: string,
    matching: StoredTweet[],
    query: Record<string, string>,
    maxResults: number,
    tokenName: 'next_token' | 'pagination_token',
  ) => {
    let list = [...matching].sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
    const given = query[tokenName];
    if (given !== undefined) {
      const cursor = cursors.get(given);
      if (!cursor || cursor.scope !== scope) {
        throw invalidParameter(tokenName, given, `The \`${tokenName}\` query parameter value [${given}] is not valid`);
      }
      list = list.filter((tweet) => BigInt(tweet.id) < cursor.belowId);
    }
    const data = list.slice(0, maxResults);
    const last = data.at(-1);
    const meta: Record<string, unknown> = { result_count: data.length };
    if (data.length === 0) return { meta };
    meta.newest_id = data[0]?.id;
    meta.oldest_id = last?.id;
    if (last && list.length > data.length) {
      const next = randomBytes(12).toString('hex');
      cursors.set(next, { scope, belowId: BigInt(last.id) });
      meta.next_token = next;
    }
    const fields = query['tweet.fields']?.split(',') ?? [];
    const body: Record<string, unknown> = { data: data.map((tweet) => render(tweet, fields)) };
    if (query.expansions?.split(',').includes('author_id')) {
      const userFields = query['user.fields']?.split(',') ?? [];
      const authors = [...new Set(data.map((tweet) => tweet.author_id))]
        .map(userById)
        .filter((user): user is XUser => user !== undefined);
      body.includes = { users: authors.map((user) => renderUser(user, userFields)) };
    }
    body.meta = meta;
    return body;
  };

  /** A tiny evaluator of X's search operators: keywords, "phrases", #tags, from:, is:reply/retweet/quote, lang:, negation. */
  const matcher = (raw: string): ((tweet: StoredTweet) => boolean) => {
    const tokens = raw.match(/-?"[^"]*"|\S+/g) ?? [];
    const tests = tokens.map((token) => {
      const negated = token.startsWith('-');
      const term = negated ? token.slice(1) : token;
      let test: (tweet: StoredTweet) => boolean;
      const operator = /^([a-z_]+):(.+)$/.exec(term);
      if (term.startsWith('"')) {
        const phrase = term.slice(1, -1).toLowerCase();
        test = (tweet) => tweet.text.toLowerCase().includes(phrase);
      } else if (operator) {
        const [, name, value = ''] = operator;
        if (name === 'from')
          test = (tweet) => userById(tweet.author_id)?.username.toLowerCase() === value.toLowerCase();
        else if (name === 'lang') test = (tweet) => tweet.lang === value;
        else if (name === 'conversation_id') test = (tweet) => tweet.conversation_id === value;
        else if (name === 'is' && value === 'reply')
          test = (tweet) => tweet.referenced_tweets?.some((ref) => ref.type === 'replied_to') ?? false;
        else if (name === 'is' && value === 'quote')
          test = (tweet) => tweet.referenced_tweets?.some((ref) => ref.type === 'quoted') ?? false;
        else if (name === 'is' && value === 'retweet') test = () => false;
        else
          throw invalidRequest([
            {
              parameters: { query: [raw] },
              message: `There were errors processing your request: Reference to invalid operator '${name}'. Operator is not available in current product or product packaging. Please refer to complete available operator list at https://developer.twitter.com/en/docs/twitter-api/enterprise/rules-and-filtering/operators-by-product.`,
            },
          ]);
      } else {
        const word = term.toLowerCase();
        test = (tweet) =>
          (tweet.text.toLowerCase().match(/[#@]?[\p{L}\p{N}_]+/gu) ?? []).some((part) =>
            word.startsWith('#') || word.startsWith('@') ? part === word : part.replace(/^[#@]/, '') === word,
          );
      }
      return negated ? (tweet: StoredTweet) => !test(tweet) : test;
    });
    if (tests.length === 0 || tokens.every((token) => token.startsWith('-'))) {
      throw invalidRequest([
        {
          parameters: { query: [raw] },
          message: 'There were errors processing your request: Rules must contain a non-negation term',
        },
      ]);
    }
    return (tweet) => tests.every((test) => test(tweet));
  };

  const tweetsFields = [
    'expansions',
    'tweet.fields',
    'user.fields',
    ...fieldParameters,
    'max_results',
    'since_id',
    'until_id',
    'start_time',
    'end_time',
  ];
  const routes: {
    method: string;
    route: string;
    pattern: RegExp;
    write?: boolean;
    run(match: string[], query: Record<string, string>, body: unknown, user: XUser): Answer;
  }[] = [
    {
      method: 'POST',
      route: '/2/tweets',
      pattern: /^\/2\/tweets$/,
      write: true,
      run: (_match, _query, body, me) => {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw invalidRequest([{ message: `$: expected type: JSONObject, found: ${typeof body}` }]);
        }
        const fields = body as Record<string, unknown>;
        for (const key of Object.keys(fields)) {
          if (!tweetBodyFields.has(key)) {
            throw invalidRequest([
              { message: `$.${key}: is not defined in the schema and the schema does not allow additional properties` },
            ]);
          }
        }
        if (fields.text !== undefined && typeof fields.text !== 'string') {
          throw invalidRequest([{ message: `$.text: expected type: String, found: ${typeof fields.text}` }]);
        }
        const text = (fields.text as string | undefined) ?? '';
        if (text === '' && fields.media === undefined) {
          throw invalidRequest([{ message: 'Post text is empty' }]);
        }
        if ([...text].length > 280) {
          throw forbidden(
            'Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.',
          );
        }
        if (tweets.some((tweet) => tweet.author_id === me.id && tweet.text === text)) {
          throw forbidden('You are not allowed to create a Tweet with duplicate content.');
        }
        const extra: Partial<StoredTweet> = {};
        const references: NonNullable<StoredTweet['referenced_tweets']> = [];
        if (fields.reply !== undefined) {
          const reply = fields.reply as Record<string, unknown> | null;
          const target = typeof reply?.in_reply_to_tweet_id === 'string' ? reply.in_reply_to_tweet_id : undefined;
          if (!reply || typeof reply !== 'object' || !target || !/^\d{1,19}$/.test(target)) {
            throw invalidRequest([
              { message: '$.reply.in_reply_to_tweet_id: does not match the regex pattern ^[0-9]{1,19}$' },
            ]);
          }
          const parent = tweets.find((tweet) => tweet.id === target);
          if (!parent) throw forbidden('You attempted to reply to a Tweet that is deleted or not visible to you.');
          references.push({ type: 'replied_to', id: parent.id });
          extra.conversation_id = parent.conversation_id;
          extra.in_reply_to_user_id = parent.author_id;
        }
        if (fields.quote_tweet_id !== undefined) {
          const target = fields.quote_tweet_id;
          if (typeof target !== 'string' || !/^\d{1,19}$/.test(target)) {
            throw invalidRequest([{ message: '$.quote_tweet_id: does not match the regex pattern ^[0-9]{1,19}$' }]);
          }
          if (!tweets.some((tweet) => tweet.id === target)) {
            throw forbidden('You attempted to quote a Tweet that is deleted or not visible to you.');
          }
          references.push({ type: 'quoted', id: target });
        }
        if (references.length > 0) extra.referenced_tweets = references;
        const tweet = store(me, text, new Date(), extra);
        return new Answer(201, { data: { id: tweet.id, text: tweet.text, edit_history_tweet_ids: [tweet.id] } });
      },
    },
    {
      method: 'GET',
      route: '/2/tweets/search/recent',
      pattern: /^\/2\/tweets\/search\/recent$/,
      run: (_match, query) => {
        checkQuery(query, ['query', 'next_token', 'pagination_token', 'sort_order', ...tweetsFields], tweetExpansions);
        const raw = query.query;
        if (raw === undefined || raw === '') {
          throw invalidRequest([
            { parameters: { query: [] }, message: 'The `query` query parameter can not be empty' },
          ]);
        }
        if (raw.length > 512) {
          throw invalidParameter('query', raw, `The \`query\` query parameter value [${raw}] is not between 1 and 512`);
        }
        const maxResults = integer(query, 'max_results', 10, 100, 10);
        const match = matcher(raw);
        const since = Date.now() - 7 * 24 * 3600 * 1000;
        const visible = tweets.filter(
          (tweet) => Date.parse(tweet.created_at) >= since && !userById(tweet.author_id)?.protected && match(tweet),
        );
        // Recent search takes next_token, or pagination_token as its synonym.
        const tokenName = query.pagination_token !== undefined ? 'pagination_token' : 'next_token';
        return new Answer(200, pageOf(`search:${raw}`, visible, query, maxResults, tokenName));
      },
    },
    {
      method: 'GET',
      route: '/2/users/:id/tweets',
      pattern: /^\/2\/users\/([^/]+)\/tweets$/,
      run: ([, id = ''], query, _body, me) => {
        checkQuery(query, ['pagination_token', 'exclude', ...tweetsFields], tweetExpansions);
        if (!/^\d{1,19}$/.test(id)) {
          throw invalidParameter('id', id, `The \`id\` query parameter value [${id}] does not match ^[0-9]{1,19}$`);
        }
        const maxResults = integer(query, 'max_results', 5, 100, 10);
        const exclude = query.exclude?.split(',') ?? [];
        for (const item of exclude) {
          if (item !== 'replies' && item !== 'retweets') {
            throw invalidParameter(
              'exclude',
              item,
              `The \`exclude\` query parameter value [${item}] is not one of [replies,retweets]`,
            );
          }
        }
        const user = userById(id);
        if (!user) {
          return new Answer(200, {
            errors: [
              {
                value: id,
                detail: `Could not find user with id: [${id}].`,
                title: 'Not Found Error',
                resource_type: 'user',
                parameter: 'id',
                resource_id: id,
                type: problemType('resource-not-found'),
              },
            ],
          });
        }
        if (user.protected && user.id !== me.id) {
          return new Answer(200, {
            errors: [
              {
                value: id,
                detail: `Sorry, you are not authorized to see the user with id: [${id}].`,
                title: 'Authorization Error',
                resource_type: 'user',
                parameter: 'id',
                resource_id: id,
                type: problemType('not-authorized-for-resource'),
              },
            ],
          });
        }
        const own = tweets.filter(
          (tweet) =>
            tweet.author_id === id &&
            !(exclude.includes('replies') && tweet.referenced_tweets?.some((ref) => ref.type === 'replied_to')),
        );
        return new Answer(
          200,
          pageOf(`timeline:${id}:${query.exclude ?? ''}`, own, query, maxResults, 'pagination_token'),
        );
      },
    },
    {
      method: 'GET',
      route: '/2/users/by/username/:username',
      pattern: /^\/2\/users\/by\/username\/([^/]+)$/,
      run: ([, raw = ''], query) => {
        checkQuery(
          query,
          ['expansions', 'tweet.fields', 'user.fields'],
          ['affiliation.user_id', 'most_recent_tweet_id', 'pinned_tweet_id'],
        );
        const username = decodeURIComponent(raw);
        if (!/^[A-Za-z0-9_]{1,15}$/.test(username)) {
          throw invalidParameter(
            'username',
            username,
            `The \`username\` query parameter value [${username}] does not match ^[A-Za-z0-9_]{1,15}$`,
          );
        }
        const user = userByName(username);
        if (!user) {
          return new Answer(200, {
            errors: [
              {
                value: username,
                detail: `Could not find user with username: [${username}].`,
                title: 'Not Found Error',
                resource_type: 'user',
                parameter: 'username',
                resource_id: username,
                type: problemType('resource-not-found'),
              },
            ],
          });
        }
        return new Answer(200, { data: renderUser(user, query['user.fields']?.split(',') ?? []) });
      },
    },
    {
      method: 'GET',
      route: '/2/users/me',
      pattern: /^\/2\/users\/me$/,
      run: (_match, query, _body, me) => {
        checkQuery(
          query,
          ['expansions', 'tweet.fields', 'user.fields'],
          ['affiliation.user_id', 'most_recent_tweet_id', 'pinned_tweet_id'],
        );
        return new Answer(200, { data: renderUser(me, query['user.fields']?.split(',') ?? []) });
      },
    },
  ];

  const handle = (request: IncomingMessage, raw: Buffer): Answer => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    const contentType = request.headers['content-type'];
    let body: unknown;
    let malformed = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        malformed = true;
      }
    }
    requests.push({
      method: request.method ?? '',
      pathname: url.pathname,
      query,
      authorization: request.headers.authorization,
      contentType,
      body: malformed ? raw.toString('utf8') : body,
    });
    const forced = failures.findIndex((entry) => entry.path === url.pathname);
    if (forced >= 0) {
      const [failure] = failures.splice(forced, 1);
      if (failure) return failure.answer;
    }
    const route = routes.find((entry) => entry.method === request.method && entry.pattern.test(url.pathname));
    if (!route) return new Answer(404, { errors: [{ message: 'Sorry, that page does not exist', code: 34 }] });
    const authorization = request.headers.authorization ?? '';
    const given = /^Bearer (.+)$/.exec(authorization)?.[1];
    if (given !== token && given !== readOnlyToken) {
      return new Answer(401, { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    }
    // Every answer past authentication carries the endpoint's window; a spent one is X's 429.
    const key = `${route.method} ${route.route}`;
    const limit = windows[key] ?? 900;
    const stored = limits.get(key);
    const state = stored && stored.reset > now() ? stored : { remaining: limit, reset: now() + 15 * 60 };
    limits.set(key, state);
    const rateHeaders = () => ({
      'x-rate-limit-limit': String(limit),
      'x-rate-limit-remaining': String(state.remaining),
      'x-rate-limit-reset': String(state.reset),
    });
    if (state.remaining <= 0) {
      return new Answer(
        429,
        { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 },
        rateHeaders(),
      );
    }
    state.remaining -= 1;
    try {
      if (route.write && given !== token) {
        throw forbidden('You are not permitted to perform this action.');
      }
      if (route.method === 'POST') {
        if (!String(contentType ?? '').startsWith('application/json')) {
          throw new Answer(415, {
            title: 'Unsupported Media Type',
            detail: `Content-Type ${contentType ?? '(none)'} is not supported: send application/json`,
            type: 'about:blank',
            status: 415,
          });
        }
        if (malformed) throw invalidRequest([{ message: 'Request body is not valid JSON' }]);
      }
      const match = route.pattern.exec(url.pathname) ?? [];
      const answer = route.run([...match], query, body, users.me);
      return new Answer(answer.status, answer.body, { ...rateHeaders(), ...answer.headers });
    } catch (error) {
      if (!(error instanceof Answer)) throw error;
      return new Answer(error.status, error.body, { ...rateHeaders(), ...error.headers });
    }
  };

  const send = (response: ServerResponse, answer: Answer) => {
    // X answers its problem objects as problem+json and everything else as JSON.
    const problem =
      answer.status >= 400 && typeof answer.body === 'object' && answer.body !== null && 'title' in answer.body;
    response.writeHead(answer.status, {
      'content-type': problem ? 'application/problem+json' : 'application/json; charset=utf-8',
      ...answer.headers,
    });
    response.end(JSON.stringify(answer.body));
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        send(response, handle(request, Buffer.concat(chunks)));
      } catch {
        send(
          response,
          new Answer(500, {
            title: 'Internal Server Error',
            detail: 'Something went wrong',
            type: 'about:blank',
            status: 500,
          }),
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    readOnlyToken,
    me: users.me,
    users,
    requests,
    tweets,
    seed,
    exhaust(route, resetInSeconds) {
      const reset = now() + resetInSeconds;
      limits.set(route, { remaining: 0, reset });
      return { reset };
    },
    refill(route) {
      limits.delete(route);
    },
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
