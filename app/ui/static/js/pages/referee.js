// Act as referee: declare and withdraw availability on upcoming fixtures, see the referee's
// assignments and notifications, live. A REFEREE is always itself; an ADMIN picks a referee.
import { FIXTURE_FIELDS, FixtureHeader } from '../fixture.js';
import { showDateTime } from '../format.js';
import { useAction, useQuery, useSubscription } from '../hooks.js';
import { html, useState } from '../lib.js';
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
      <h2 id="act-as">Act as referee</h2>
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
      <${Assignments} referee=${referee} />
      <${Availability} referee=${referee} fixtures=${query.data.fixtures.edges.map((e) => e.node)} onChanged=${query.reload} />`}`;
}

function Notifications({ referee, onRead }) {
  const unread = referee.notifications.filter((n) => !n.read).length;
  const { run, error } = useAction(onRead);
  const markRead = () => run(MARK_READ, { r: referee.id });
  return html`<section aria-labelledby="notifications">
    <h2 id="notifications">Notifications${unread ? ` (${unread} unread)` : ''}</h2>
    ${referee.notifications.length === 0
      ? html`<p>No notifications yet.</p>`
      : html`<ul class="cards notifications">${referee.notifications.map((n) => html`<li key=${n.id}
          class=${n.read ? 'card read' : 'card unread'}>
          ${!n.read && html`<${Badge} kind="new">New</${Badge}> `}<span>${n.message}</span>
          <small class="muted"> <time datetime=${n.createdAt}>${showDateTime(n.createdAt)}</time></small>
        </li>`)}</ul>`}
    ${unread > 0 && html`<button type="button" class="secondary" onClick=${markRead}>Mark all as read</button>`}
    <${Alert} error=${error} />
  </section>`;
}

function Assignments({ referee }) {
  return html`<section aria-labelledby="assignments">
    <h2 id="assignments">Assignments of ${referee.name}</h2>
    ${referee.assignments.length === 0
      ? html`<p>No assignments yet.</p>`
      : html`<ul class="cards">${referee.assignments.map((a) => html`<li key=${`${a.fixture.id}-${a.role}`} class="card">
          <${FixtureHeader} fixture=${a.fixture} />
          <p><${Badge} kind=${a.status.toLowerCase()}>${a.role === 'FIRST' ? 'First referee' : 'Second referee'}${a.status === 'STAGED' ? ' (planned)' : ''}</${Badge}></p>
        </li>`)}</ul>`}
  </section>`;
}

function Availability({ referee, fixtures, onChanged }) {
  const declared = new Set(referee.availableFixtures.map((f) => f.id));
  return html`<section aria-labelledby="availability">
    <h2 id="availability">Upcoming fixtures: when can ${referee.name} referee?</h2>
    ${fixtures.length === 0
      ? html`<p>No upcoming fixtures.</p>`
      : html`<ul class="cards">${fixtures.map((f) => html`<li key=${f.id}>
          <${AvailabilityCard} fixture=${f} referee=${referee} available=${declared.has(f.id)} onChanged=${onChanged} />
        </li>`)}</ul>`}
  </section>`;
}

function AvailabilityCard({ fixture, referee, available, onChanged }) {
  const { run, error, busy } = useAction(onChanged);
  const toggle = () => run(available ? WITHDRAW : DECLARE, { f: fixture.id, r: referee.id });
  return html`<article class="card">
    <${FixtureHeader} fixture=${fixture} />
    <p>${available ? html`<${Badge} kind="available">Available</${Badge}>` : html`<span class="muted">Not declared</span>`}</p>
    <button type="button" class=${available ? 'secondary' : ''} disabled=${busy} onClick=${toggle}
      aria-label=${`${available ? 'Withdraw availability for' : 'Declare availability for'} ${fixture.teamHome.name} – ${fixture.teamAway.name}`}>
      ${available ? 'Withdraw availability' : 'Declare availability'}
    </button>
    <${Alert} error=${error} />
  </article>`;
}
