import { Cron } from 'croner';

/**
 * Cron schedules of workflow triggers, read by croner in an IANA time zone. Pure: the caller passes the times.
 *
 * What is accepted:
 * - 5 fields (`minute hour day-of-month month day-of-week`, e.g. `0 9 * * 1-5`) or 6 with seconds first
 *   (`*\/10 * * * * *`), with croner's extensions (`L`, `W`, `#`, `+` for day-of-month AND day-of-week; by default
 *   the two day fields are OR-ed as in Vixie cron) and the nicknames `@yearly`, `@monthly`, `@weekly`, `@daily`,
 *   `@hourly`. Not croner's 7th (year) field, nor a date or ISO time in place of a pattern: a trigger repeats.
 * - The finest step is a second: croner has no finer field, so every accepted schedule fires at most once a
 *   second, which is the floor we want (a cron tick and a run each take longer than that to be worth less).
 * - A schedule that never fires (`0 0 31 2 *`) is refused.
 *
 * Daylight saving time, as croner (and Vixie cron) do it: a fixed-time schedule (one value each in seconds,
 * minutes and hours, such as `30 2 * * *`) whose time falls in the spring gap fires at the first time after the
 * gap that day, and once (the first time) in the repeated autumn hour; an interval schedule (`*\/30 * * * *`)
 * skips times in the gap and fires in both passes of the repeated hour.
 */

/**
 * How late a fire may still run under the `skip` policy: a control plane that was down, or a tick delayed by
 * load, still fires the most recent scheduled time if it is at most this old.
 */
export const missedFireGraceMs = 60_000;

/** Missed fires are counted one by one up to this many; past it `missed` says "at least this many". */
export const maxCountedMissedFires = 1000;

export type MissedFirePolicy = 'skip' | 'run_once';

/** What a cron tick does for one trigger. */
export interface DueFires {
  /** The scheduled time to fire for now, or null to fire nothing. */
  fireAt: number | null;
  /** The next scheduled time after now, or null if the schedule never fires again. */
  next: number | null;
  /** Scheduled times that passed and are not fired (at most `maxCountedMissedFires`). */
  missed: number;
}

const nicknames = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

const parsed = new Map<string, Cron>();

function validTimezone(timezone: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(timezone))
    return `the time zone "${timezone}" is not an IANA time zone name such as Europe/Berlin or UTC`;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    return `unknown time zone "${timezone}": use an IANA name such as Europe/Berlin, America/New_York or UTC`;
  }
}

/**
 * Reads a schedule in a time zone, or throws an Error that says what is wrong with either.
 *
 * @example parseSchedule('0 9 * * 1-5', 'Europe/Berlin') // weekdays at 09:00 Berlin time
 */
export function parseSchedule(schedule: string, timezone: string): Cron {
  const key = `${timezone}\u0000${schedule}`;
  const known = parsed.get(key);
  if (known) return known;
  const zoneProblem = validTimezone(timezone);
  if (zoneProblem) throw new Error(zoneProblem);
  const pattern = schedule.trim();
  const fields = pattern.split(/\s+/).length;
  if (!nicknames.has(pattern.toLowerCase()) && fields !== 5 && fields !== 6)
    throw new Error(
      `the schedule "${schedule}" has ${fields} field${fields === 1 ? '' : 's'}: a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 (seconds first), or is one of ${[...nicknames].join(', ')}`,
    );
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone, mode: '5-or-6-parts', paused: true });
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern:\s*/, '');
    throw new Error(`the schedule "${schedule}" is not a cron expression: ${reason}`);
  }
  if (cron.nextRun(new Date(0)) === null) throw new Error(`the schedule "${schedule}" never fires`);
  if (parsed.size >= 1000) parsed.clear();
  parsed.set(key, cron);
  return cron;
}

/**
 * The first scheduled time strictly after `afterMs`, or null if there is none.
 *
 * @example nextFireAfter('0 9 * * *', 'UTC', Date.parse('2026-01-01T09:00:00Z')) // Date.parse('2026-01-02T09:00:00Z')
 */
export function nextFireAfter(schedule: string, timezone: string, afterMs: number): number | null {
  return parseSchedule(schedule, timezone).nextRun(new Date(afterMs))?.getTime() ?? null;
}

/**
 * What a cron tick at `nowMs` does with the scheduled times from `fromMs` (inclusive: a trigger's stored next
 * fire time, which a tick moves on past `nowMs`) to `nowMs` (inclusive). At most one run is started per tick:
 *
 * - `skip`: fire the most recent scheduled time if it is at most `missedFireGraceMs` old (on time, or a tick
 *   delayed a little); older ones, and all of them after a longer outage, are skipped and counted in `missed`.
 * - `run_once`: fire once for all of them, as the most recent one; the others are counted in `missed`.
 *
 * `next` is the first scheduled time after `nowMs`, where the trigger's next fire moves.
 *
 * @example dueFires('0 * * * *', 'UTC', Date.parse('2026-01-01T09:00:00Z'), Date.parse('2026-01-01T12:30:00Z'), 'run_once')
 * // { fireAt: Date.parse('2026-01-01T12:00:00Z'), next: Date.parse('2026-01-01T13:00:00Z'), missed: 3 }
 */
export function dueFires(
  schedule: string,
  timezone: string,
  fromMs: number,
  nowMs: number,
  policy: MissedFirePolicy,
): DueFires {
  const cron = parseSchedule(schedule, timezone);
  const after = (ms: number) => cron.nextRun(new Date(ms))?.getTime() ?? null;
  const next = after(nowMs);
  // croner's times are whole seconds and strictly after the one given: from one millisecond before includes fromMs.
  let fire = after(fromMs - 1);
  if (fire === null || fire > nowMs) return { fireAt: null, next, missed: 0 };
  let latest = fire;
  let due = 0;
  while (fire !== null && fire <= nowMs && due <= maxCountedMissedFires) {
    latest = fire;
    due++;
    fire = after(fire);
  }
  if (fire !== null && fire <= nowMs) {
    // Too many to count: the latest is the one just before the next after now.
    latest = cron.previousRuns(1, new Date(nowMs + 1))[0]?.getTime() ?? latest;
  }
  if (policy === 'run_once' || nowMs - latest <= missedFireGraceMs)
    return { fireAt: latest, next, missed: Math.min(due - 1, maxCountedMissedFires) };
  return { fireAt: null, next, missed: Math.min(due, maxCountedMissedFires) };
}
