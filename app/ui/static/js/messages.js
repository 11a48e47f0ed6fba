// People's words for what the API says. The API's `reason` and `message` stay precise (and
// name things by id); the app says the same with names: a fixture is "VC Hamburg – TV Bühl,
// Wed, 9 Dec 2026, 19:00 at Sporthalle Nord", never a UUID.
import { gql } from './api.js';
import { FIXTURE_FIELDS } from './fixture.js';
import { match, showDateTime } from './format.js';

/** "1 assignment", "2 assignments"; `many` for irregular plurals. */
export const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** A fixture as people name it: who plays, when, where. */
export const fixtureName = (fixture) => `${match(fixture)}, ${showDateTime(fixture.date)} at ${fixture.venue.name}`;

export const roleName = (role) => (role === 'FIRST' ? 'first referee' : 'second referee');

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export const idsIn = (text) => [...new Set(text.match(UUID) ?? [])];

/** The names of these ids (fixtures and referees), asked of the API in one request:
 * a Map id -> {fixture} or {referee}; ids it does not know are left out. */
export async function lookUp(ids, known = new Map()) {
  const names = new Map(known);
  const missing = ids.filter((id) => !names.has(id));
  if (missing.length === 0) return names;
  const fields = missing.map((id, i) => `f${i}: fixture(id: "${id}") { ${FIXTURE_FIELDS} } r${i}: referee(id: "${id}") { id name }`);
  try {
    const data = await gql(`{ ${fields.join(' ')} }`);
    missing.forEach((id, i) => {
      if (data[`f${i}`]) names.set(id, { fixture: data[`f${i}`] });
      else if (data[`r${i}`]) names.set(id, { referee: data[`r${i}`] });
    });
  } catch {
    // without the names the message keeps its ids' places as "another fixture"
  }
  return names;
}

const nameOf = (names, id, unknown = 'another fixture') => {
  const known = names.get(id);
  if (known?.fixture) return fixtureName(known.fixture);
  if (known?.referee) return known.referee.name;
  return unknown;
};

/** The first id in `message` named, or `fallback`. */
const firstNamed = (message, names, fallback) => {
  const [id] = idsIn(message);
  return id ? nameOf(names, id, fallback) : fallback;
};

// A refused operation, by its reason: (error, names) -> a sentence. Reasons not listed keep
// the API's message (already a sentence a person can act on), with any id named.
const REFUSALS = {
  NETWORK: () => 'Not saved: the server cannot be reached.',
  VENUE_BUSY: (e, names) => `The venue is taken that day by ${firstNamed(e.message, names, 'another fixture')}.`,
  TEAM_BUSY: (e, names) => `A team already plays that day: ${firstNamed(e.message, names, 'another fixture')}.`,
  FIXTURE_PLAYED: () => 'This fixture has already been played: it takes no new referees.',
  VALIDATION_FAILED: (e) => {
    const count = e.extensions?.problems?.length ?? 0;
    return `Nothing was committed: first fix the ${plural(count, 'problem')} shown on the board.`;
  },
  CONCURRENT_UPDATE: () => 'Someone changed this at the same moment: try again.',
  HTTP: (e) => `The server could not answer (${e.message.replace(/\D+/g, ' ').trim()}): try again in a moment.`,
  INTERNAL_SERVER_ERROR: (e) => `Something went wrong on the server: try again, or tell the admin (reference ${e.extensions?.correlationId ?? 'unknown'}).`,
  INVALID_TEXT: (e) => {
    const [field, ...rest] = e.message.split(' ');
    const words = rest.join(' ');
    if (words.startsWith('must not be blank')) return `Enter the ${field}.`;
    if (words.startsWith('must be at most')) return `The ${field} is too long: ${words.replace(/^must be /, '')}`;
    return e.message;
  },
};

/** A sentence for one error of an ApiError (or any Error), ids named. */
export async function refusalText(error) {
  const reason = error.extensions?.reason ?? error.extensions?.code;
  const names = await lookUp(idsIn(error.message ?? ''));
  const words = REFUSALS[reason];
  if (words) return words(error, names);
  return (error.message ?? String(error)).replace(UUID, (id) => nameOf(names, id));
}

/** Whether an error is the network's (worth a Retry), not the server's refusal. */
export const isNetwork = (error) => error?.errors?.some((e) => e.extensions?.code === 'NETWORK') ?? false;

// A validation problem of a staged assignment, by its code: ({referee, fixture}, other name) -> a sentence.
const PROBLEMS = {
  FIXTURE_CANCELLED: (p) => `The fixture is cancelled: remove ${p.referee.name}.`,
  REFEREE_NOT_AVAILABLE: (p) => `${p.referee.name} has not declared availability for this fixture.`,
  ROLE_TAKEN: (p, other) => `${other} is staged as ${roleName(p.role)} here too: keep one of them.`,
  DOUBLE_BOOKED: (p, other) => `${p.referee.name} would also referee ${other}, at an overlapping time.`,
  DIFFERENT_VENUE_SAME_DAY: (p, other) => `${p.referee.name} would also referee ${other}, at another venue that day.`,
};

/** A validation problem in words; `names` knows the ids its message mentions (lookUp).
 * `p.role` is the staged assignment's role, when known. */
export function problemText(p, names) {
  const role = p.role ?? p.message.match(/as (FIRST|SECOND) referee/)?.[1];
  const other = firstNamed(p.message, names, p.code === 'ROLE_TAKEN' ? 'another referee' : 'another fixture');
  const words = PROBLEMS[p.code];
  return words ? words({ ...p, role }, other) : p.message.replace(UUID, (id) => nameOf(names, id));
}
