// Job schedules are merchant settings, stored as text:
//   "every 30s" | "every 15m" | "every 6h" | "every 1d"   fixed intervals, aligned to the epoch
//   "0 6 * * *" | "*/10 * * * * *"                         cron, 5 fields (or 6 with seconds)
//   "0 6 * * * tz=Europe/Paris"                            cron in a time zone (default UTC)
import { CronExpressionParser } from 'cron-parser';
import { invalid } from '../errors.js';

export type Schedule =
  | { kind: 'interval'; seconds: number; text: string }
  | { kind: 'cron'; expression: string; timeZone: string; text: string };

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseSchedule(text: string): Schedule {
  const trimmed = text.trim();
  const every = /^every\s+(\d+)\s*([smhd])$/i.exec(trimmed);
  if (every) {
    const seconds = Number(every[1]) * (UNIT_SECONDS[every[2]!.toLowerCase()] ?? 0);
    if (seconds < 1 || seconds > 31 * 86400) {
      throw invalid('jobs.invalid_schedule', `Schedule "${text}": an interval must be between 1 second and 31 days.`, {
        schedule: text,
      });
    }
    return { kind: 'interval', seconds, text: trimmed };
  }
  const tzMatch = /\s+tz=(\S+)$/.exec(trimmed);
  const expression = tzMatch ? trimmed.slice(0, tzMatch.index).trim() : trimmed;
  const timeZone = tzMatch?.[1] ?? 'UTC';
  const fields = expression.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw invalid(
      'jobs.invalid_schedule',
      `Schedule "${text}" is neither "every N(s|m|h|d)" nor a cron expression with 5 or 6 fields (it has ${fields}).`,
      { schedule: text },
    );
  }
  try {
    Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw invalid('jobs.invalid_schedule', `Schedule "${text}": unknown time zone "${timeZone}".`, { schedule: text });
  }
  try {
    CronExpressionParser.parse(expression, { tz: timeZone, strict: false });
  } catch (error) {
    throw invalid(
      'jobs.invalid_schedule',
      `Schedule "${text}" is not a valid cron expression: ${(error as Error).message}`,
      {
        schedule: text,
      },
    );
  }
  return { kind: 'cron', expression, timeZone, text: trimmed };
}

/** The most recent moment at or before `now` when the schedule fires. */
export function latestSlot(schedule: Schedule, now: Date): Date {
  if (schedule.kind === 'interval') {
    const ms = schedule.seconds * 1000;
    return new Date(Math.floor(now.getTime() / ms) * ms);
  }
  const expression = CronExpressionParser.parse(schedule.expression, {
    tz: schedule.timeZone,
    currentDate: new Date(now.getTime() + 1),
  });
  return expression.prev().toDate();
}

/** The next moment after `now` when the schedule fires (for display). */
export function nextSlot(schedule: Schedule, now: Date): Date {
  if (schedule.kind === 'interval') {
    const ms = schedule.seconds * 1000;
    return new Date((Math.floor(now.getTime() / ms) + 1) * ms);
  }
  return CronExpressionParser.parse(schedule.expression, { tz: schedule.timeZone, currentDate: now }).next().toDate();
}
