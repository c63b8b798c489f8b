import { describe, expect, it } from 'vitest';
import { dueFires, maxCountedMissedFires, missedFireGraceMs, nextFireAfter, parseSchedule } from './cron-schedule.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The next `count` fires after a time, as ISO strings in UTC. */
function fires(schedule: string, timezone: string, after: string, count: number): Array<string | null> {
  const times: Array<string | null> = [];
  let from = at(after);
  for (let index = 0; index < count; index++) {
    const next = nextFireAfter(schedule, timezone, from);
    times.push(iso(next));
    if (next === null) break;
    from = next;
  }
  return times;
}

describe('parseSchedule', () => {
  it('accepts 5 fields, 6 with seconds first, croner’s extensions and nicknames', () => {
    for (const schedule of ['0 9 * * 1-5', '*/10 * * * * *', '0 0 L * *', '0 12 * * FRI#L', '@daily', ' @Hourly '])
      expect(() => parseSchedule(schedule, 'UTC'), schedule).not.toThrow();
  });

  it('refuses a 7th (year) field, a date in place of a pattern and a wrong number of fields', () => {
    expect(() => parseSchedule('0 0 0 1 1 * 2030', 'UTC')).toThrow(/has 7 fields: a cron expression has 5 .* or 6/);
    expect(() => parseSchedule('2030-01-01T00:00:00', 'UTC')).toThrow(/has 1 field:/);
    expect(() => parseSchedule('* * *', 'UTC')).toThrow(/has 3 fields/);
  });

  it('names what is wrong with a bad expression', () => {
    expect(() => parseSchedule('61 * * * *', 'UTC')).toThrow(
      /"61 \* \* \* \*" is not a cron expression: Invalid value for minute: 61/,
    );
    expect(() => parseSchedule('*/0 * * * *', 'UTC')).toThrow(/illegal stepping/);
    expect(() => parseSchedule('@reboot', 'UTC')).toThrow(/has 1 field/);
    expect(() => parseSchedule('0 0 31 2 *', 'UTC')).toThrow(/never fires/);
  });

  it('refuses an unknown time zone or one that is not an IANA name', () => {
    expect(() => parseSchedule('0 9 * * *', 'Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus"/);
    expect(() => parseSchedule('0 9 * * *', '+05:30')).toThrow(/not an IANA time zone name/);
    expect(() => parseSchedule('0 9 * * *', '')).toThrow(/not an IANA time zone name/);
    for (const timezone of ['UTC', 'Europe/Berlin', 'America/New_York', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5'])
      expect(() => parseSchedule('0 9 * * *', timezone), timezone).not.toThrow();
  });
});

describe('nextFireAfter', () => {
  it('answers the first time strictly after, at whole seconds', () => {
    expect(iso(nextFireAfter('0 9 * * *', 'UTC', at('2026-01-01T08:59:59.999Z')))).toBe('2026-01-01T09:00:00.000Z');
    expect(iso(nextFireAfter('0 9 * * *', 'UTC', at('2026-01-01T09:00:00.000Z')))).toBe('2026-01-02T09:00:00.000Z');
    expect(fires('*/20 * * * * *', 'UTC', '2026-01-01T00:00:05.500Z', 3)).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
  });

  it('reads the schedule in its time zone', () => {
    // 09:00 in Berlin is 08:00 UTC in winter, 07:00 in summer; in New York 14:00 / 13:00 UTC.
    expect(fires('0 9 * * *', 'Europe/Berlin', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T08:00:00.000Z']);
    expect(fires('0 9 * * *', 'Europe/Berlin', '2026-07-01T00:00:00Z', 1)).toEqual(['2026-07-01T07:00:00.000Z']);
    expect(fires('0 9 * * 1-5', 'America/New_York', '2026-01-02T15:00:00Z', 2)).toEqual([
      '2026-01-05T14:00:00.000Z',
      '2026-01-06T14:00:00.000Z',
    ]);
  });

  it('fires a fixed time in the spring gap after the gap, and once in the repeated autumn hour (Berlin)', () => {
    // 2026-03-29 02:00 CET jumps to 03:00 CEST; 2026-10-25 03:00 CEST falls back to 02:00 CET.
    expect(fires('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first time after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    expect(fires('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first pass only
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('skips an interval schedule’s times in the gap and fires in both passes of the repeated hour (New York)', () => {
    // 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST.
    expect(fires('*/30 * * * *', 'America/New_York', '2026-03-08T06:15:00Z', 3)).toEqual([
      '2026-03-08T06:30:00.000Z', // 01:30 EST
      '2026-03-08T07:00:00.000Z', // 03:00 EDT: 02:00 and 02:30 do not exist
      '2026-03-08T07:30:00.000Z',
    ]);
    expect(fires('*/30 * * * *', 'America/New_York', '2026-11-01T04:45:00Z', 5)).toEqual([
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T06:00:00.000Z', // 01:00 EST
      '2026-11-01T06:30:00.000Z', // 01:30 EST
      '2026-11-01T07:00:00.000Z', // 02:00 EST
    ]);
  });
});

describe('dueFires', () => {
  const hourly = '0 * * * *';

  it('fires nothing before the stored next fire and says when that is', () => {
    expect(dueFires(hourly, 'UTC', at('2026-01-01T10:00:00Z'), at('2026-01-01T09:59:59Z'), 'skip')).toEqual({
      fireAt: null,
      next: at('2026-01-01T10:00:00Z'),
      missed: 0,
    });
  });

  it('fires the stored next fire when it is due, and moves on past now', () => {
    for (const policy of ['skip', 'run_once'] as const)
      expect(dueFires(hourly, 'UTC', at('2026-01-01T10:00:00Z'), at('2026-01-01T10:00:00.300Z'), policy)).toEqual({
        fireAt: at('2026-01-01T10:00:00Z'),
        next: at('2026-01-01T11:00:00Z'),
        missed: 0,
      });
  });

  it('under skip, still fires a tick late by up to the grace window', () => {
    const late = at('2026-01-01T10:00:00Z') + missedFireGraceMs;
    expect(dueFires(hourly, 'UTC', at('2026-01-01T10:00:00Z'), late, 'skip').fireAt).toBe(at('2026-01-01T10:00:00Z'));
    expect(dueFires(hourly, 'UTC', at('2026-01-01T10:00:00Z'), late + 1, 'skip')).toEqual({
      fireAt: null,
      next: at('2026-01-01T11:00:00Z'),
      missed: 1,
    });
  });

  it('after an outage, skip fires nothing and run_once fires once for all, as the latest', () => {
    const from = at('2026-01-01T09:00:00Z');
    const now = at('2026-01-01T12:30:00Z');
    expect(dueFires(hourly, 'UTC', from, now, 'skip')).toEqual({
      fireAt: null,
      next: at('2026-01-01T13:00:00Z'),
      missed: 4,
    });
    expect(dueFires(hourly, 'UTC', from, now, 'run_once')).toEqual({
      fireAt: at('2026-01-01T12:00:00Z'),
      next: at('2026-01-01T13:00:00Z'),
      missed: 3,
    });
  });

  it('under skip, fires the most recent time when it is within the grace window, counting the older ones', () => {
    expect(dueFires(hourly, 'UTC', at('2026-01-01T09:00:00Z'), at('2026-01-01T12:00:30Z'), 'skip')).toEqual({
      fireAt: at('2026-01-01T12:00:00Z'),
      next: at('2026-01-01T13:00:00Z'),
      missed: 3,
    });
  });

  it('counts missed fires up to a bound and still finds the latest after a long outage', () => {
    const plan = dueFires('* * * * * *', 'UTC', at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00.500Z'), 'run_once');
    expect(plan).toEqual({
      fireAt: at('2026-01-02T00:00:00Z'),
      next: at('2026-01-02T00:00:01Z'),
      missed: maxCountedMissedFires,
    });
  });

  it('uses the zone’s DST rules for what was missed (a night across the Berlin spring gap)', () => {
    // 02:30 daily: on 2026-03-29 it fires at 03:00 CEST (01:00 UTC).
    const plan = dueFires(
      '30 2 * * *',
      'Europe/Berlin',
      at('2026-03-28T01:30:00Z'),
      at('2026-03-29T01:00:20Z'),
      'skip',
    );
    expect(plan).toEqual({ fireAt: at('2026-03-29T01:00:00Z'), next: at('2026-03-30T00:30:00Z'), missed: 1 });
  });
});
