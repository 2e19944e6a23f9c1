import { describe, expect, test } from 'vitest';
import { latestSlot, nextSlot, parseSchedule } from './schedule.js';

describe('job schedules', () => {
  test('intervals are aligned to the epoch', () => {
    const every15m = parseSchedule('every 15m');
    expect(every15m).toEqual({ kind: 'interval', seconds: 900, text: 'every 15m' });
    expect(latestSlot(every15m, new Date('2026-11-28T06:44:59.999Z'))).toEqual(new Date('2026-11-28T06:30:00Z'));
    expect(latestSlot(every15m, new Date('2026-11-28T06:45:00Z'))).toEqual(new Date('2026-11-28T06:45:00Z'));
    expect(nextSlot(every15m, new Date('2026-11-28T06:45:00Z'))).toEqual(new Date('2026-11-28T07:00:00Z'));
    expect(latestSlot(parseSchedule('every 1s'), new Date('2026-11-28T06:45:03.700Z'))).toEqual(
      new Date('2026-11-28T06:45:03Z'),
    );
  });

  test('cron expressions, with seconds and time zones', () => {
    const morning = parseSchedule('0 6 * * * tz=Europe/Paris');
    expect(morning).toMatchObject({ kind: 'cron', expression: '0 6 * * *', timeZone: 'Europe/Paris' });
    // 06:00 in Paris is 05:00 UTC in winter.
    expect(latestSlot(morning, new Date('2026-11-28T05:30:00Z'))).toEqual(new Date('2026-11-28T05:00:00Z'));
    expect(latestSlot(morning, new Date('2026-11-28T04:59:59Z'))).toEqual(new Date('2026-11-27T05:00:00Z'));
    expect(nextSlot(morning, new Date('2026-11-28T05:30:00Z'))).toEqual(new Date('2026-11-29T05:00:00Z'));
    const everyTenSeconds = parseSchedule('*/10 * * * * *');
    expect(latestSlot(everyTenSeconds, new Date('2026-11-28T06:45:19.500Z'))).toEqual(new Date('2026-11-28T06:45:10Z'));
    // A slot exactly at `now` is the latest slot.
    expect(latestSlot(parseSchedule('30 3 * * *'), new Date('2026-11-28T03:30:00Z'))).toEqual(
      new Date('2026-11-28T03:30:00Z'),
    );
  });

  test.each([
    ['every 0s', 'an interval must be between 1 second and 31 days'],
    ['every 40d', 'an interval must be between 1 second and 31 days'],
    ['sometimes', 'is neither "every N(s|m|h|d)" nor a cron expression with 5 or 6 fields (it has 1)'],
    ['61 * * * *', 'is not a valid cron expression'],
    ['0 6 * * * tz=Mars/Olympus', 'unknown time zone "Mars/Olympus"'],
  ])('"%s" is refused: %s', (text, message) => {
    expect(() => parseSchedule(text)).toThrow(message);
  });
});
