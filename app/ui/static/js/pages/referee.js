// Act as referee: declare and withdraw availability on upcoming fixtures, see the referee's
// assignments and notifications, live. A REFEREE is always itself; an ADMIN picks a referee.
import { FIXTURE_FIELDS, FixtureHeader } from '../fixture.js';
import { hasStarted, showDateTime, showWallTimes } from '../format.js';
import { useAction, useQuery, useSubscription } from '../hooks.js';
import { html, useEffect, useRef, useState } from '../lib.js';
import { plural } from '../messages.js';
import { Alert, Badge, Field, Loading, options } from '../ui.js';

const REFEREES = '{ referees { id name } }';

const REFEREE = `query Referee($id: ID!, $from: DateTime!) {
  referee(id: $id) {
    id name club
    availableFixtures(from: $from) { id }
    assignments { role status fixture { ${FIXTURE_FIELDS} } }
    notifications(first: 20) { id kind message createdAt read }
  }
  fixtures(from: $from, status: SCHEDULED, first: 100) { edges { node { ${FIXTURE_FIELDS} } } }
}`;

const NOTIFICATIONS = 'subscription($id: ID!, $after: String) { notifications(refereeId: $id, after: $after) { id eventId } }';
const DECLARE = 'mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }';
const WITHDRAW = 'mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }';
const MARK_READ = 'mutation($r: ID!) { markNotificationsRead(refereeId: $r) }';

const ACTING_KEY = 'whistle.actingAs';

export function RefereePage({ viewer }) {
  if (viewer.role === 'REFEREE') return html`<${RefereeView} refereeId=${viewer.refereeId} />`;
  return html`<${PickReferee} />`;
}

function PickReferee() {
  const referees = useQuery(REFEREES);
  const [acting, setActing] = useState(() => localStorage.getItem(ACTING_KEY) ?? '');
  function pick(event) {
    const id = event.currentTarget.value;
    localStorage.setItem(ACTING_KEY, id);
    setActing(id);
  }
  const list = referees.data?.referees ?? [];
  const known = list.some((r) => r.id === acting);
  return html`<section class="card" aria-labelledby="act-as">
      <h2 id="act-as">Whose page?</h2>
      <p class="muted">See the app as this referee sees it, and act on their behalf.</p>
      <${Loading} query=${referees} />
      <${Field} id="acting-referee" label="Referee" options=${options(list)} placeholder="Choose a referee"
        value=${known ? acting : ''} onChange=${pick} />
    </section>
    ${known && html`<${RefereeView} key=${acting} refereeId=${acting} />`}`;
}

function RefereeView({ refereeId }) {
  const [from] = useState(() => new Date().toISOString());
  const query = useQuery(REFEREE, { id: refereeId, from });
  // A notification comes after every change that concerns this referee (a commit included):
  // reloading then shows the new assignment and the notification together.
  const live = useSubscription(NOTIFICATIONS, { id: refereeId }, query.reload);
  const referee = query.data?.referee;
  if (query.data && referee === null) return html`<${Alert} error="This referee does not exist (any more)." />`;
  return html`<${Loading} query=${query} />
    ${referee && html`
      <p class="live" data-live=${live}>${live ? 'Live: updates appear as they happen.' : 'Connecting for live updates…'}</p>
      <${Notifications} referee=${referee} onRead=${query.reload} />
      <${Assignments} referee=${referee} now=${from} />
      <${Availability} referee=${referee} fixtures=${query.data.fixtures.edges.map((e) => e.node)} from=${from} onChanged=${query.reload} />`}`;
}

function Notifications({ referee, onRead }) {
  const unread = referee.notifications.filter((n) => !n.read).length;
  const heading = useRef(null);
  // "Mark all as read" goes away once it has done its job: the keyboard stays in this section.
  const { run, error } = useAction(() => heading.current?.focus());
  const markRead = () => run(MARK_READ, { r: referee.id }).then((done) => done && onRead());
  return html`<section aria-labelledby="notifications">
    <h2 id="notifications" tabindex="-1" ref=${heading}>Notifications${unread ? ` (${unread} unread)` : ''}</h2>
    ${referee.notifications.length === 0
      ? html`<p>No notifications yet.</p>`
      : html`<ul class="cards notifications">${referee.notifications.map((n) => html`<li key=${n.id}
          class=${n.read ? 'card read' : 'card unread'}>
          ${!n.read && html`<${Badge} kind="new">New</${Badge}> `}<span>${showWallTimes(n.message)}</span>
          <small class="muted"> <time datetime=${n.createdAt}>${showDateTime(n.createdAt)}</time></small>
        </li>`)}</ul>`}
    ${unread > 0 && html`<button type="button" class="secondary" onClick=${markRead}>Mark all as read</button>`}
    <${Alert} error=${error} />
  </section>`;
}

const byDate = (a, b) => new Date(a.fixture.date) - new Date(b.fixture.date);

/** Upcoming assignments first (soonest first), staged ones marked "planned"; past ones folded away. */
function Assignments({ referee, now }) {
  const started = (a) => hasStarted(a.fixture.date, new Date(now));
  const upcoming = referee.assignments.filter((a) => !started(a)).sort(byDate);
  const past = referee.assignments.filter(started).sort(byDate).reverse();
  return html`<section aria-labelledby="assignments">
    <h2 id="assignments">Assignments of ${referee.name}</h2>
    ${referee.assignments.length === 0 && html`<p>No assignments yet.</p>`}
    ${referee.assignments.length > 0 && upcoming.length === 0 && html`<p>No upcoming assignments.</p>`}
    ${upcoming.length > 0 && html`<${AssignmentList} assignments=${upcoming} />`}
    ${past.length > 0 && html`<details class="past">
      <summary>Past assignments (${past.length})</summary>
      <${AssignmentList} assignments=${past} />
    </details>`}
  </section>`;
}

const AssignmentList = ({ assignments }) => html`<ul class="cards">${assignments.map((a) => html`<li key=${`${a.fixture.id}-${a.role}`} class="card">
  <${FixtureHeader} fixture=${a.fixture} />
  <p><${Badge} kind=${a.status.toLowerCase()}>${a.role === 'FIRST' ? 'First referee' : 'Second referee'}</${Badge}>
    ${a.status === 'STAGED' && html` <${Badge} kind="planned">Planned</${Badge}> <span class="muted">not yet confirmed by the admin</span>`}</p>
</li>`)}</ul>`;

const WEEKS_AT_A_TIME = 4;

/** The fixtures of the coming weeks, more on demand. */
function Availability({ referee, fixtures, from, onChanged }) {
  const declared = new Set(referee.availableFixtures.map((f) => f.id));
  const [weeks, setWeeks] = useState(WEEKS_AT_A_TIME);
  const until = new Date(new Date(from).getTime() + weeks * 7 * 86400000);
  const shown = fixtures.filter((f) => new Date(f.date) < until);
  const [grown, setGrown] = useState(0);
  // After "Show more", the keyboard goes on at the first fixture that was not there before.
  useEffect(() => {
    if (grown) document.querySelector(`#availability-list > li:nth-child(${grown + 1}) button`)?.focus();
  }, [grown]);
  return html`<section aria-labelledby="availability">
    <h2 id="availability">Upcoming fixtures: when can ${referee.name} referee?</h2>
    ${fixtures.length === 0
      ? html`<p>No upcoming fixtures.</p>`
      : html`<p class="muted">The next ${weeks} weeks: ${plural(shown.length, 'fixture')}.</p>
        <ul class="cards" id="availability-list">${shown.map((f) => html`<li key=${f.id}>
          <${AvailabilityCard} fixture=${f} referee=${referee} available=${declared.has(f.id)} onChanged=${onChanged} />
        </li>`)}</ul>
        ${shown.length < fixtures.length && html`<div class="actions more-weeks">
          <button type="button" class="secondary"
            onClick=${() => { setGrown(shown.length); setWeeks(weeks + WEEKS_AT_A_TIME); }}>Show ${WEEKS_AT_A_TIME} more weeks</button>
        </div>`}`}
  </section>`;
}

function AvailabilityCard({ fixture, referee, available, onChanged }) {
  const { run, error, busy } = useAction(onChanged);
  const toggle = () => run(available ? WITHDRAW : DECLARE, { f: fixture.id, r: referee.id });
  return html`<article class="card">
    <${FixtureHeader} fixture=${fixture} />
    <p>${available ? html`<${Badge} kind="available">Available</${Badge}>` : html`<span class="muted">Not declared</span>`}</p>
    <button type="button" class=${available ? 'secondary' : ''} aria-disabled=${busy ? 'true' : undefined} onClick=${toggle}
      aria-label=${`${available ? 'Withdraw availability for' : 'Declare availability for'} ${fixture.teamHome.name} – ${fixture.teamAway.name}`}>
      ${available ? 'Withdraw availability' : 'Declare availability'}
    </button>
    <${Alert} error=${error} />
  </article>`;
}
