// Dates between the API (RFC 3339, UTC) and the person (their browser's time zone).

const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
});

export const showDateTime = (iso) => dateTime.format(new Date(iso));

const wallTime = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC',
});

/** "2026-12-09 19:00" (a wall-clock time in a server message) shown like every other date. */
export const showWallTimes = (text) => text.replace(/\b(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})\b/g,
  (_, y, mo, d, h, mi) => wallTime.format(new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi))));

/** Whether an API DateTime is now or past (a fixture that has kicked off). */
export const hasStarted = (iso, now = new Date()) => new Date(iso) <= now;

/** `<input type="datetime-local">` value (local, no offset) -> the API's DateTime. */
export const fromLocalInput = (value) => (value ? new Date(value).toISOString() : null);

/** The API's DateTime -> an `<input type="datetime-local">` value. */
export function toLocalInput(iso) {
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

/** `<input type="date">` value -> the start of that local day as the API's DateTime. */
const startOfDay = (value) => (value ? new Date(`${value}T00:00:00`).toISOString() : null);

/** Today (local) as an `<input type="date">` value. */
export function today() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

/** `days` after an `<input type="date">` value. */
export function addDays(value, days) {
  const date = new Date(`${value}T12:00:00`);
  date.setDate(date.getDate() + days);
  return toLocalInput(date.toISOString()).slice(0, 10);
}

export const match = (fixture) => `${fixture.teamHome.name} – ${fixture.teamAway.name}`;

/** A DateWindow's dates -> the API's `from` (inclusive) and `to` (exclusive). */
export const windowVariables = (window) => ({
  from: startOfDay(window.from),
  to: window.to ? startOfDay(addDays(window.to, 1)) : null,
});
