import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('allows a burst of the per-minute budget, then refills at that rate', () => {
    const limiter = new RateLimiter(60);
    const start = 1_000_000;
    for (let index = 0; index < 60; index++) expect(limiter.take('k', start).ok).toBe(true);
    expect(limiter.take('k', start)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('k', start + 999).ok).toBe(false);
    expect(limiter.take('k', start + 2000).ok).toBe(true);
    expect(limiter.take('other', start).ok).toBe(true);
  });
});
