import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signatures of webhook deliveries to `POST /v1/hooks/{token}` (the `hooksDeliver` route):
 *
 *     X-RunTools-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the trigger's secret>
 *     X-RunTools-Delivery: <an id of the sender's, unique per delivery: a replay of it is refused>
 *
 * The timestamp is part of what is signed, so an old delivery cannot be sent again with a new time; it must be
 * within `toleranceSeconds` (5 minutes) of the server's clock either way. A header may carry several `v1=`
 * (the sender signing with the old and the new secret while one is rotated); one that matches is enough. Other
 * schemes (`v0=`, a future `v2=`) are ignored. The delivery id is the caller's to remember (trigger-service).
 */

export const webhookSignatureHeader = 'x-runtools-signature';
export const webhookDeliveryHeader = 'x-runtools-delivery';
export const defaultWebhookToleranceSeconds = 300;

/** Longest signature header read; a real one is about 80 characters a signature. */
const maxHeaderLength = 1024;
/** Most `v1=` a header may carry. */
const maxSignatures = 8;

export type WebhookRefusal = 'missing' | 'malformed' | 'stale' | 'mismatch';
export type WebhookVerdict = { ok: true; timestamp: number } | { ok: false; reason: WebhookRefusal };

export interface VerifyWebhookOptions {
  /** The trigger's secret, or several while one is rotated on this side. */
  secret: string | readonly string[];
  /** The raw body as received, before any parsing. */
  body: Buffer;
  /** The X-RunTools-Signature header as received (Node joins repeated headers with ", "). */
  header: string | null | undefined;
  nowMs: number;
  toleranceSeconds?: number;
}

function hmac(secret: string, timestamp: string, body: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/**
 * The X-RunTools-Signature header for a body: what a sender computes, here for tests and docs. Several secrets
 * give several `v1=`.
 *
 * @example
 * const body = JSON.stringify({ action: 'opened' });
 * await fetch(hookUrl, {
 *   method: 'POST',
 *   body,
 *   headers: {
 *     'content-type': 'application/json',
 *     'x-runtools-signature': signWebhook(secret, body, Math.floor(Date.now() / 1000)),
 *     'x-runtools-delivery': crypto.randomUUID(),
 *   },
 * });
 */
export function signWebhook(
  secret: string | readonly string[],
  body: Buffer | string,
  timestampSeconds: number,
): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0)
    throw new RangeError(`a webhook timestamp is a whole number of seconds since 1970, not ${timestampSeconds}`);
  const timestamp = String(timestampSeconds);
  const secrets = typeof secret === 'string' ? [secret] : secret;
  return [`t=${timestamp}`, ...secrets.map((key) => `v1=${hmac(key, timestamp, body).toString('hex')}`)].join(',');
}

/** The header's timestamp (as sent: its digits are what was signed) and signatures, or why it cannot be read. */
function parseHeader(header: string): { timestamp: string; signatures: Buffer[] } | undefined {
  if (header.length > maxHeaderLength) return undefined;
  let timestamp: string | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const equals = part.indexOf('=');
    if (equals < 0) return undefined;
    const key = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();
    if (key === 't') {
      // Whole seconds only: no sign, fraction or exponent; one t (a repeated header repeats it).
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return undefined;
      timestamp = value;
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(value) || signatures.length >= maxSignatures) return undefined;
      signatures.push(Buffer.from(value, 'hex'));
    } else if (!/^[a-z][a-z0-9]{0,15}$/.test(key)) {
      return undefined;
    }
  }
  if (timestamp === undefined || signatures.length === 0) return undefined;
  return { timestamp, signatures };
}

/**
 * Checks a delivery's X-RunTools-Signature against the raw body. Never throws on what a sender controls: an
 * absent header is `missing`, one that does not read as `t=…,v1=…` is `malformed`, a timestamp outside the
 * tolerance is `stale`, and no `v1` matching the secret is `mismatch` (compared in constant time).
 *
 * @example verifyWebhook({ secret, body: rawBody, header: request.header('x-runtools-signature'), nowMs: Date.now() })
 */
export function verifyWebhook({
  secret,
  body,
  header,
  nowMs,
  toleranceSeconds = defaultWebhookToleranceSeconds,
}: VerifyWebhookOptions): WebhookVerdict {
  if (typeof header !== 'string' || header.trim() === '') return { ok: false, reason: 'missing' };
  const parsed = parseHeader(header);
  if (!parsed) return { ok: false, reason: 'malformed' };
  const timestamp = Number(parsed.timestamp);
  // A delivery too old or too far ahead is refused before any HMAC is computed for it.
  if (!(Math.abs(nowMs - timestamp * 1000) <= toleranceSeconds * 1000)) return { ok: false, reason: 'stale' };
  const secrets = (typeof secret === 'string' ? [secret] : secret).filter((key) => key.length > 0);
  for (const key of secrets) {
    const expected = hmac(key, parsed.timestamp, body);
    // Every signature is compared, matching or not, so the time taken does not say which one matched.
    let matched = false;
    for (const signature of parsed.signatures) if (timingSafeEqual(signature, expected)) matched = true;
    if (matched) return { ok: true, timestamp };
  }
  return { ok: false, reason: 'mismatch' };
}
