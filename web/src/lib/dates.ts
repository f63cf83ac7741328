// Dates for display and for the statement's range (the API's since/until are RFC 3339, UTC).

const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

export function formatDateTime(rfc3339: string): string {
  const time = Date.parse(rfc3339);
  return Number.isNaN(time) ? rfc3339 : DATE_TIME.format(time);
}

/** "2026-11-29" (a date input's value) → the start of that day in UTC, RFC 3339. */
export function startOfDayUtc(day: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  return `${day}T00:00:00Z`;
}

/** The end of a range given by its last day: the start of the next day, exclusive. */
export function endOfDayUtc(day: string): string | undefined {
  const start = startOfDayUtc(day);
  if (!start) return undefined;
  const next = new Date(Date.parse(start) + 86_400_000);
  return next.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
