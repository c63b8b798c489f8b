import { DomainError } from '../../errors.js';
import { type OfficialToolContext, upstreamError } from './official-tool.js';

/**
 * What the Google API clients (@googleapis/gmail, calendar, sheets) take besides the OAuth2 client: the API root
 * from the configured base URL (they append `/gmail/v1/...` to it, and expect it to end in a slash), and no
 * retries: gaxios retries a 429 and 5xx three times by default, which would hide a rate limit from the caller and
 * hold the call past its timeout.
 */
export function googleClientOptions(context: OfficialToolContext) {
  return { rootUrl: `${context.baseUrl.replace(/\/+$/, '')}/`, retry: false } as const;
}

/** Per-request options: the call's abort signal, and retries off again (method options are merged over the global ones). */
export const requestOptions = (context: OfficialToolContext) => ({ signal: context.signal, retry: false });

/** Google's error body: `{ error: { code, message, status, errors: [{ reason, message, domain }] } }`. */
type GoogleErrorBody = {
  error?: { code?: number; message?: string; status?: string; errors?: { reason?: string; message?: string }[] };
};

/**
 * Reasons Google gives for a 403 that is a rate limit, not a refusal of the credentials (Calendar and Gmail
 * answer a per-user limit with 403 rateLimitExceeded / userRateLimitExceeded before they ever send a 429).
 */
const rateLimitReasons = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'dailyLimitExceeded', 'quotaExceeded']);

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Retry-After in seconds: Google sends a number of seconds, HTTP allows a date too. */
function retryAfterSeconds(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * Runs Google API calls, mapping Google's refusals to tool errors with Google's own message. The clients throw a
 * GaxiosError: with `response` when Google answered, without when the request never got an answer.
 */
export async function callGoogle<T>(provider: string, context: OfficialToolContext, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    // The tool service turns an abort into tool_timeout; anything that is not an HTTP failure is a bug to surface.
    if (context.signal.aborted) throw error;
    const failure = error as {
      message?: string;
      config?: unknown;
      response?: { status?: number; statusText?: string; data?: unknown; headers?: unknown };
    };
    if (!failure.config) throw error;
    const response = failure.response;
    if (!response || typeof response.status !== 'number') {
      throw upstreamError(provider, undefined, failure.message ?? 'no answer');
    }
    const body = (typeof response.data === 'object' && response.data !== null ? response.data : {}) as GoogleErrorBody;
    const reasons = (body.error?.errors ?? []).map((entry) => entry.reason).filter((reason) => reason !== undefined);
    // A path Google does not know gets its front end's HTML page, not JSON: the status text is all there is.
    const message = body.error?.message ?? (response.statusText || `HTTP ${response.status}`);
    const detail = body.error?.status ? `${message} (${body.error.status})` : message;
    const retryAfter = retryAfterSeconds(header(response.headers, 'retry-after'));
    if (response.status === 403 && reasons.some((reason) => rateLimitReasons.has(reason))) {
      if (retryAfter !== undefined) throw upstreamError(provider, response.status, detail, retryAfter);
      // Google gives no wait for these (its guidance is exponential backoff), so the caller gets none either.
      throw new DomainError('tool_rate_limited', `${provider} rate limit: ${detail}`, {
        provider,
        upstreamStatus: response.status,
        retryAfterSeconds: null,
      });
    }
    throw upstreamError(provider, response.status, detail, retryAfter);
  }
}
