// The admin's assignment board: per fixture, the available referees to stage as first or second,
// the staged and committed assignments (removable), the validation problems inline, and commit.
// It reloads when any admin commits (assignmentsCommitted) or a fixture changes.
import { FIXTURE_FIELDS, FixtureHeader } from '../fixture.js';
import { addDays, showDateTime, today, windowVariables } from '../format.js';
import { useAction, useQuery, useSubscription } from '../hooks.js';
import { html, useState } from '../lib.js';
import { Alert, Badge, DateWindow, Loading, Note } from '../ui.js';

const BOARD = `query Board($from: DateTime, $to: DateTime) {
  fixtures(from: $from, to: $to, status: SCHEDULED, first: 30) {
    totalCount
    edges { node { ${FIXTURE_FIELDS}
      availableReferees { id name club }
      assignments { role status referee { id name } } } }
  }
  validateAssignments { valid problems { code message fixture { id } referee { id } } }
  availabilityLock { locked changedAt }
}`;

const COMMITTED = 'subscription($after: String) { assignmentsCommitted(after: $after) { id eventId committedAt assignments { role } } }';
const FIXTURE_CHANGED = 'subscription($after: String) { fixtureChanged(after: $after) { kind eventId } }';
const STAGE = 'mutation($input: StageAssignmentInput!) { stageAssignment(input: $input) { status } }';
const REMOVE = {
  STAGED: 'mutation($f: ID!, $r: ID!) { removeStagedAssignment(fixtureId: $f, refereeId: $r) }',
  COMMITTED: 'mutation($f: ID!, $r: ID!) { removeCommittedAssignment(fixtureId: $f, refereeId: $r) }',
};
const COMMIT = 'mutation { commitAssignments { id assignments { role } replaced { role } } }';
const LOCK = {
  true: 'mutation { unlockAvailabilities { locked } }',
  false: 'mutation { lockAvailabilities { locked } }',
};

// The API's problem messages name referees and fixtures by id; the board knows their names.
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

function namesOnBoard(edges) {
  const names = new Map();
  for (const { node } of edges) {
    names.set(node.id, `${node.teamHome.name} – ${node.teamAway.name}`);
    for (const r of node.availableReferees) names.set(r.id, r.name);
    for (const a of node.assignments) names.set(a.referee.id, a.referee.name);
  }
  return names;
}

const withNames = (message, names) => message.replace(UUID, (id) => names.get(id) ?? id);

const ROLES = [
  ['FIRST', 'first'],
  ['SECOND', 'second'],
];

export function BoardPage() {
  const [window, setWindow] = useState({ from: today(), to: addDays(today(), 21) });
  const board = useQuery(BOARD, windowVariables(window));
  const [event, setEvent] = useState(null);
  const live = useSubscription(COMMITTED, {}, ({ assignmentsCommitted: commit }) => {
    setEvent(`${commit.assignments.length} assignment(s) committed at ${showDateTime(commit.committedAt)}.`);
    board.reload();
  });
  useSubscription(FIXTURE_CHANGED, {}, board.reload);
  // Every button runs a mutation, then the board shows the state as it is now; a refusal is shown at the top.
  const { run: act, error } = useAction(board.reload);

  const data = board.data;
  const staged = data ? data.fixtures.edges.flatMap((e) => e.node.assignments).filter((a) => a.status === 'STAGED').length : 0;
  const names = data ? namesOnBoard(data.fixtures.edges) : new Map();
  return html`<section>
    <p class="live" data-live=${live}>${live ? 'Live: commits by other admins appear here.' : 'Connecting for live updates…'}</p>
    <form class="filters" aria-label="Fixtures on the board" onSubmit=${(e) => e.preventDefault()}>
      <${DateWindow} prefix="board" window=${window} onChange=${setWindow} />
    </form>
    <${Loading} query=${board} />
    ${data && html`<div class="card toolbar">
        <p>${staged} staged assignment${staged === 1 ? '' : 's'} on these fixtures.
          ${data.validateAssignments.valid ? ' All staged assignments are valid.' : ` ${data.validateAssignments.problems.length} problem(s) to fix before committing.`}</p>
        <button type="button" onClick=${() => act(COMMIT)}>Commit staged assignments</button>
        <button type="button" class="secondary" onClick=${() => act(LOCK[data.availabilityLock.locked])}>
          ${data.availabilityLock.locked ? 'Unlock availabilities' : 'Lock availabilities'}</button>
        <${Alert} error=${error} />
        <${Note}>${event}</${Note}>
      </div>
      ${data.fixtures.totalCount > data.fixtures.edges.length && html`<p class="muted">Showing the first
        ${data.fixtures.edges.length} of ${data.fixtures.totalCount} fixtures: narrow the dates.</p>`}
      <ul class="cards board">
        ${data.fixtures.edges.map(({ node }) => html`<li key=${node.id}>
          <${BoardFixture} fixture=${node} problems=${data.validateAssignments.problems.filter((p) => p.fixture.id === node.id)} names=${names} act=${act} />
        </li>`)}
      </ul>`}
  </section>`;
}

function BoardFixture({ fixture, problems, names, act }) {
  const label = `${fixture.teamHome.name} – ${fixture.teamAway.name}`;
  const assigned = new Set(fixture.assignments.map((a) => a.referee.id));
  return html`<article class="card" aria-label=${`Board: ${label}`}>
    <${FixtureHeader} fixture=${fixture} />
    <h4>Assignments</h4>
    ${fixture.assignments.length === 0
      ? html`<p class="muted">No referee yet.</p>`
      : html`<ul class="plain">${fixture.assignments.map((a) => html`<li key=${`${a.referee.id}`}>
          <${Badge} kind=${a.status.toLowerCase()}>${a.status === 'STAGED' ? 'Staged' : 'Committed'}</${Badge}>
          ${' '}${a.role === 'FIRST' ? 'First' : 'Second'}: ${a.referee.name}
          <button type="button" class="link" aria-label=${`Remove ${a.referee.name} from ${label}`}
            onClick=${() => act(REMOVE[a.status], { f: fixture.id, r: a.referee.id })}>Remove</button>
          ${problems.filter((p) => p.referee.id === a.referee.id).map((p) => html`<p class="problem" role="note">
            <strong>${p.code}</strong>: ${withNames(p.message, names)}</p>`)}
        </li>`)}</ul>`}
    <h4>Available referees</h4>
    ${fixture.availableReferees.length === 0
      ? html`<p class="muted">Nobody has declared availability.</p>`
      : html`<ul class="plain available">${fixture.availableReferees.map((r) => html`<li key=${r.id}>
          <span>${r.name} <span class="muted">(${r.club})</span>${assigned.has(r.id) ? ' ✓' : ''}</span>
          <span class="buttons">${ROLES.map(([role, name]) => html`<button type="button" class="small"
            aria-label=${`Stage ${r.name} as ${name} referee of ${label}`}
            onClick=${() => act(STAGE, { input: { fixtureId: fixture.id, refereeId: r.id, role } })}>${name[0].toUpperCase() + name.slice(1)}</button>`)}</span>
        </li>`)}</ul>`}
  </article>`;
}
