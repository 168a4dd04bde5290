/** The database clock, for the jobs tests: slots are due by it, never by a wall clock. */
import { setTimeout as delay } from 'node:timers/promises';
import type { Pool, RowDataPacket } from 'mysql2/promise';

/** `UTC_TIMESTAMP(3)` of the server. */
export async function dbNow(pool: Pool): Promise<Date> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ') AS now");
  return new Date(String(rows[0]?.['now']));
}

/** Resolves once the database clock has reached `instant`. */
export async function untilDb(pool: Pool, instant: Date): Promise<void> {
  for (;;) {
    const left = instant.getTime() - (await dbNow(pool)).getTime();
    if (left <= 0) return;
    await delay(Math.min(left, 1000));
  }
}

/**
 * `count` slots one second apart, the first `inSeconds` from now by the
 * database clock, all in one minute (it waits for the next minute if need
 * be), and a cron expression (UTC) that names exactly them this year.
 */
export async function slotsAhead(pool: Pool, count: number, inSeconds: number): Promise<{ slots: Date[]; cron: string }> {
  let now = await dbNow(pool);
  if (now.getUTCSeconds() + inSeconds + count > 58) {
    await untilDb(pool, new Date(Math.ceil(now.getTime() / 60_000) * 60_000 + 100));
    now = await dbNow(pool);
  }
  const first = Math.floor(now.getTime() / 1000) * 1000 + inSeconds * 1000;
  const slots = Array.from({ length: count }, (_, i) => new Date(first + i * 1000));
  const [one] = slots as [Date];
  const seconds = slots.map((slot) => slot.getUTCSeconds()).join(',');
  return { slots, cron: `${seconds} ${one.getUTCMinutes()} ${one.getUTCHours()} ${one.getUTCDate()} ${one.getUTCMonth() + 1} *` };
}
