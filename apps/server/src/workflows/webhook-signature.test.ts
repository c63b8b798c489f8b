import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultWebhookToleranceSeconds, signWebhook, verifyWebhook } from './webhook-signature.js';

const secret = 'whsec_test_secret';
const body = Buffer.from('{"action":"opened","number":123}');
const now = Date.parse('2026-01-05T10:00:00Z');
const t = now / 1000;

const verify = (header: string | null | undefined, options: Partial<Parameters<typeof verifyWebhook>[0]> = {}) =>
  verifyWebhook({ secret, body, header, nowMs: now, ...options });

describe('signWebhook', () => {
  it('writes t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body.toString()}`).digest('hex');
    expect(signWebhook(secret, body, t)).toBe(`t=${t},v1=${expected}`);
    expect(signWebhook(secret, body.toString(), t)).toBe(signWebhook(secret, body, t));
  });

  it('writes one v1 per secret', () => {
    expect(signWebhook(['old', 'new'], body, t)).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
  });

  it('refuses a timestamp that is not whole seconds', () => {
    expect(() => signWebhook(secret, body, 1.5)).toThrow(RangeError);
    expect(() => signWebhook(secret, body, -1)).toThrow(RangeError);
  });
});

describe('verifyWebhook', () => {
  it('accepts a delivery signed with the secret, answering its timestamp', () => {
    expect(verify(signWebhook(secret, body, t))).toEqual({ ok: true, timestamp: t });
    // Binary bodies are signed as bytes.
    const binary = Buffer.from([0, 255, 1, 254, 0x80]);
    expect(verify(signWebhook(secret, binary, t), { body: binary })).toEqual({ ok: true, timestamp: t });
    // Spaces around the parts and unknown schemes are tolerated.
    const [time, signature] = signWebhook(secret, body, t).split(',');
    expect(verify(` ${time} , v0=abc, ${signature} `)).toEqual({ ok: true, timestamp: t });
  });

  it('accepts any matching v1 while a secret is rotated, on either side', () => {
    expect(verify(signWebhook(['whsec_old', secret], body, t))).toMatchObject({ ok: true });
    expect(verify(signWebhook('whsec_old', body, t), { secret: [secret, 'whsec_old'] })).toMatchObject({ ok: true });
  });

  it('says missing without a header', () => {
    for (const header of [undefined, null, '', '   ']) expect(verify(header)).toEqual({ ok: false, reason: 'missing' });
  });

  it('says malformed for a header that does not read as t=…,v1=…', () => {
    const signature = signWebhook(secret, body, t).split(',')[1];
    const malformed = [
      'garbage',
      `t=${t}`, // no signature
      signature, // no timestamp
      `t=abc,${signature}`,
      `t=-${t},${signature}`, // negative
      `t=${t}.5,${signature}`, // a fraction
      `t=1.7e9,${signature}`, // an exponent
      `t=+${t},${signature}`,
      `t=0x10,${signature}`,
      `t=${'9'.repeat(13)},${signature}`,
      `t=${t},v1=${'z'.repeat(64)}`, // not hex
      `t=${t},v1=abcd`, // too short
      `t=${t},v1=${'a'.repeat(66)}`,
      `${signWebhook(secret, body, t)}, ${signWebhook(secret, body, t)}`, // a repeated header, joined by Node
      `t=${t},${signature},`, // an empty part
      `t=${t},${Array.from({ length: 9 }, () => signature).join(',')}`, // too many signatures
      `t=${t},${signature},__proto__=1`,
      `t=${t},${signature},${'x'.repeat(2000)}=1`,
    ];
    for (const header of malformed) expect(verify(header), header).toEqual({ ok: false, reason: 'malformed' });
  });

  it('reads a huge header no further than its length', () => {
    const start = performance.now();
    expect(verify(`t=${t},${'v1=0,'.repeat(2_000_000)}`)).toEqual({ ok: false, reason: 'malformed' });
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('says stale outside the tolerance, either way', () => {
    const tolerance = defaultWebhookToleranceSeconds;
    expect(verify(signWebhook(secret, body, t - tolerance))).toMatchObject({ ok: true });
    expect(verify(signWebhook(secret, body, t + tolerance))).toMatchObject({ ok: true });
    expect(verify(signWebhook(secret, body, t - tolerance - 1))).toEqual({ ok: false, reason: 'stale' });
    expect(verify(signWebhook(secret, body, t + tolerance + 1))).toEqual({ ok: false, reason: 'stale' });
    expect(verify(signWebhook(secret, body, 0))).toEqual({ ok: false, reason: 'stale' });
    expect(verify(signWebhook(secret, body, t - 60), { toleranceSeconds: 30 })).toEqual({ ok: false, reason: 'stale' });
  });

  it('says mismatch for another secret, another body or another timestamp', () => {
    expect(verify(signWebhook('whsec_other', body, t))).toEqual({ ok: false, reason: 'mismatch' });
    const tampered = Buffer.from(body);
    tampered[tampered.length - 2] = '4'.charCodeAt(0);
    expect(verify(signWebhook(secret, body, t), { body: tampered })).toEqual({ ok: false, reason: 'mismatch' });
    // The signature of one time does not hold for another: the timestamp is signed.
    const signature = signWebhook(secret, body, t - 10).split(',')[1];
    expect(verify(`t=${t},${signature}`)).toEqual({ ok: false, reason: 'mismatch' });
    // Leading zeros change what was signed.
    expect(verify(`t=0${t},${signWebhook(secret, body, t).split(',')[1]}`)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('says mismatch for an empty secret, whatever was signed with it', () => {
    expect(verify(signWebhook('', body, t), { secret: '' })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verify(signWebhook('', body, t), { secret: [] })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('never throws on what a sender controls', () => {
    const pieces = ['t', 'v1', 'v0', '=', ',', ' ', '-', '.', 'e', '1', '9', 'a', 'f', 'z', '\u0000', '😀', String(t)];
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let index = 0; index < 5000; index++) {
      const header = Array.from(
        { length: Math.floor(random() * 40) },
        () => pieces[Math.floor(random() * pieces.length)],
      ).join('');
      const verdict = verify(header);
      expect(verdict.ok, header).toBe(false);
    }
  });
});
