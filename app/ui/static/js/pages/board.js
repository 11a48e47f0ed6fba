// The admin's assignment board: per fixture, the available referees to stage as first or second,
// the staged and committed assignments (removable), the validation problems inline, and commit.
// Commit commits EVERY staged assignment, so the board shows them all: the ones on fixtures
// outside the chosen dates (and their problems) in "Staged outside these dates", each with a
// link that brings its fixture into view and "Remove"; Commit asks first when any of them is
// not in view.
// It reloads when any admin commits (assignmentsCommitted) or a fixture changes.
import { FIXTURE_FIELDS, FixtureHeader } from '../fixture.js';
import { addDays, hasStarted, match, showDateTime, today, toLocalInput, windowVariables } from '../format.js';
import { useAction, useQuery, useSubscription } from '../hooks.js';
import { html, useEffect, useRef, useState } from '../lib.js';
import { fixtureName, idsIn, lookUp, plural, problemText, roleName } from '../messages.js';
import { Alert, Badge, DateWindow, Loading, Note } from '../ui.js';

const BOARD = `query Board($from: DateTime, $to: DateTime) {
  fixtures(from: $from, to: $to, status: SCHEDULED, first: 30) {
    totalCount
    edges { node { ${FIXTURE_FIELDS}
      availableReferees { id name club }
      assignments { role status referee { id name } } } }
  }
  staged: assignments(status: STAGED) { role fixture { ${FIXTURE_FIELDS} } referee { id name } }
  validateAssignments { valid problems { code message fixture { id } referee { id name } } }
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

const ROLES = [
  ['FIRST', 'First'],
  ['SECOND', 'Second'],
];

const DEFAULT_DAYS = 21;

/** The ids the board already knows a name for: its fixtures, their referees, the staged ones. */
function namesOnBoard(data) {
  const names = new Map();
  for (const { node } of data.fixtures.edges) {
    names.set(node.id, { fixture: node });
    for (const r of node.availableReferees) names.set(r.id, { referee: r });
    for (const a of node.assignments) names.set(a.referee.id, { referee: a.referee });
  }
  for (const a of data.staged) {
    names.set(a.fixture.id, { fixture: a.fixture });
    names.set(a.referee.id, { referee: a.referee });
  }
  return names;
}

/** The names of everything the problems mention, the ones the board does not show looked up. */
function useNames(data) {
  const [looked, setLooked] = useState(new Map());
  const known = data ? namesOnBoard(data) : new Map();
  const wanted = data ? data.validateAssignments.problems.flatMap((p) => idsIn(p.message)).filter((id) => !known.has(id)) : [];
  const key = wanted.join();
  useEffect(() => {
    if (wanted.length) lookUp(wanted).then(setLooked);
  }, [key]);
  return new Map([...looked, ...known]);
}

/** The staged assignments and problems per fixture that the board does not show. */
function outsideTheView(data) {
  const shown = new Set(data.fixtures.edges.map((e) => e.node.id));
  const byFixture = new Map();
  for (const a of data.staged) {
    if (shown.has(a.fixture.id)) continue;
    if (!byFixture.has(a.fixture.id)) byFixture.set(a.fixture.id, { fixture: a.fixture, staged: [], problems: [] });
    byFixture.get(a.fixture.id).staged.push(a);
  }
  for (const p of data.validateAssignments.problems) byFixture.get(p.fixture.id)?.problems.push(p);
  return [...byFixture.values()].sort((a, b) => a.fixture.date.localeCompare(b.fixture.date));
}

export function BoardPage() {
  const [window, setWindow] = useState({ from: today(), to: addDays(today(), DEFAULT_DAYS) });
  const board = useQuery(BOARD, windowVariables(window));
  const [event, setEvent] = useState(null);
  const [bringing, setBringing] = useState(null); // the fixture to focus once it is in view
  const live = useSubscription(COMMITTED, {}, ({ assignmentsCommitted: commit }) => {
    setEvent(`${plural(commit.assignments.length, 'assignment')} committed at ${showDateTime(commit.committedAt)}.`);
    board.reload();
  });
  useSubscription(FIXTURE_CHANGED, {}, board.reload);

  const data = board.data;
  const names = useNames(data);
  const outside = data ? outsideTheView(data) : [];
  useEffect(() => {
    const card = bringing && document.getElementById(`board-${bringing}`);
    if (card) {
      card.focus();
      card.scrollIntoView({ block: 'start' });
      setBringing(null);
    }
  });

  /** Show this fixture on the board: the window starts on its day. */
  function bringIntoView(fixture) {
    const day = toLocalInput(fixture.date).slice(0, 10);
    setWindow({ from: day, to: addDays(day, DEFAULT_DAYS) });
    setBringing(fixture.id);
  }

  return html`<section>
    <p class="live" data-live=${live}>${live ? 'Live: commits by other admins appear here.' : 'Connecting for live updates…'}</p>
    <form class="filters" aria-label="Fixtures on the board" onSubmit=${(e) => e.preventDefault()}>
      <${DateWindow} prefix="board" window=${window} onChange=${setWindow} />
    </form>
    <${Loading} query=${board} />
    ${data && html`<${Toolbar} data=${data} outside=${outside} onChanged=${board.reload} event=${event} setEvent=${setEvent} />
      ${data.fixtures.totalCount > data.fixtures.edges.length && html`<p class="muted">Showing the first
        ${data.fixtures.edges.length} of ${data.fixtures.totalCount} fixtures: narrow the dates.</p>`}
      ${data.fixtures.edges.length === 0 && html`<p class="muted">No scheduled fixtures in these dates.</p>`}
      <ul class="cards board">
        ${data.fixtures.edges.map(({ node }) => html`<li key=${node.id}>
          <${BoardFixture} fixture=${node} problems=${data.validateAssignments.problems.filter((p) => p.fixture.id === node.id)}
            names=${names} onChanged=${board.reload} />
        </li>`)}
      </ul>
      <${StagedElsewhere} outside=${outside} names=${names} onShow=${bringIntoView} onChanged=${board.reload} />`}
  </section>`;
}

/** What Commit would do, Commit itself (asking first when some of it is not in view), the lock. */
function Toolbar({ data, outside, onChanged, event, setEvent }) {
  // Every button runs a mutation, then the board shows the state as it is now.
  const action = useAction(onChanged);
  const [confirming, setConfirming] = useState(false);
  const commitButton = useRef(null);
  const confirmButton = useRef(null);
  const staged = data.staged.length;
  const elsewhere = outside.reduce((n, o) => n + o.staged.length, 0);
  const problems = data.validateAssignments.problems.length;
  const problemsElsewhere = outside.reduce((n, o) => n + o.problems.length, 0);
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  async function commit() {
    setConfirming(false);
    setEvent(null);
    const done = await action.run(COMMIT);
    commitButton.current?.focus();
    if (done) setEvent(`${plural(done.commitAssignments.assignments.length, 'assignment')} committed.`);
  }
  function askFirst() {
    setEvent(null);
    action.clear();
    if (staged === 0) setEvent('Nothing to commit: no assignment is staged.');
    else if (elsewhere > 0) setConfirming(true);
    else commit();
  }
  function notNow() {
    setConfirming(false);
    commitButton.current?.focus();
  }

  return html`<div class="card toolbar">
    <p>${plural(staged, 'staged assignment')} to commit${elsewhere > 0 ? html`, <${ToElsewhere}>${elsewhere} of them outside these dates</${ToElsewhere}>` : ''}.
      ${problems === 0 ? ' All staged assignments are valid.' : html` ${plural(problems, 'problem')} to fix before committing${problemsElsewhere > 0 ? html` (<${ToElsewhere}>${problemsElsewhere} outside these dates</${ToElsewhere}>)` : ''}.`}</p>
    <button type="button" ref=${commitButton} onClick=${askFirst} aria-expanded=${elsewhere > 0 ? String(confirming) : undefined}>
      Commit staged assignments</button>
    <button type="button" class="secondary" onClick=${() => action.run(LOCK[data.availabilityLock.locked])}>
      ${data.availabilityLock.locked ? 'Unlock availabilities' : 'Lock availabilities'}</button>
    ${confirming && html`<div class="confirm" role="group" aria-labelledby="confirm-commit">
      <p id="confirm-commit"><strong>Commit ${staged === 1 ? '' : 'all '}${plural(staged, 'staged assignment')}?</strong>
        ${notShown(elsewhere, staged)}; their referees are notified too:</p>
      <ul class="plain">${outside.flatMap((o) => o.staged.map((a) => html`<li key=${`${a.fixture.id}-${a.referee.id}`}>
        ${a.referee.name}, ${roleName(a.role)}: ${fixtureName(a.fixture)}</li>`))}</ul>
      <div class="actions">
        <button type="button" ref=${confirmButton} onClick=${commit}>${staged === 1 ? 'Commit it' : `Commit all ${staged}`}</button>
        <button type="button" class="secondary" onClick=${notNow}>Not now</button>
      </div>
    </div>`}
    <${Alert} error=${action.error} />
    <${Note}>${event}</${Note}>
  </div>`;
}

/** How many of the staged assignments are not in view, in words. */
function notShown(elsewhere, staged) {
  if (elsewhere === staged) return staged === 1 ? 'It is on a fixture not shown here' : 'All of them are on fixtures not shown here';
  return elsewhere === 1 ? '1 of them is on a fixture not shown here' : `${elsewhere} of them are on fixtures not shown here`;
}

/** A link-like button to "Staged outside these dates" (the URL fragment is the page's route). */
const ToElsewhere = ({ children }) => html`<button type="button" class="link inline" onClick=${() => {
  const section = document.getElementById('staged-elsewhere');
  section?.focus();
  section?.scrollIntoView({ block: 'start' });
}}>${children}</button>`;

/** Staged assignments on fixtures the board does not show, and their problems: Commit commits them too. */
function StagedElsewhere({ outside, names, onShow, onChanged }) {
  const section = useRef(null);
  const { run, error } = useAction(onChanged);
  async function remove(a) {
    await run(REMOVE.STAGED, { f: a.fixture.id, r: a.referee.id });
    section.current?.focus(); // the Remove button is gone with the assignment
  }
  if (outside.length === 0) return null;
  const count = outside.reduce((n, o) => n + o.staged.length, 0);
  return html`<section class="elsewhere" id="staged-elsewhere" aria-labelledby="staged-elsewhere-title" tabindex="-1" ref=${section}>
    <h2 id="staged-elsewhere-title">Staged outside these dates (${count})</h2>
    <p class="muted">Commit commits these too.</p>
    <${Alert} error=${error} />
    <ul class="cards">${outside.map(({ fixture, staged, problems }) => html`<li key=${fixture.id} class="card">
      <${FixtureHeader} fixture=${fixture} />
      ${hasStarted(fixture.date) && html`<p><${Badge} kind="cancelled">Already played</${Badge}>
        <span class="muted"> committing notifies its referees about a past match.</span></p>`}
      <ul class="plain">${staged.map((a) => html`<li key=${a.referee.id}>
        <${Badge} kind="staged">Staged</${Badge}> ${a.role === 'FIRST' ? 'First' : 'Second'}: ${a.referee.name}
        <button type="button" class="link" aria-label=${`Remove ${a.referee.name} from ${match(fixture)}`}
          onClick=${() => remove(a)}>Remove</button>
        ${problems.filter((p) => p.referee.id === a.referee.id).map((p) => html`<p class="problem" data-code=${p.code}>
          ${problemText({ ...p, role: a.role }, names)}</p>`)}
      </li>`)}</ul>
      <button type="button" class="secondary" onClick=${() => onShow(fixture)}
        aria-label=${`Show ${fixtureName(fixture)} on the board`}>Show on the board</button>
    </li>`)}</ul>
  </section>`;
}

function BoardFixture({ fixture, problems, names, onChanged }) {
  const label = `${fixture.teamHome.name} – ${fixture.teamAway.name}`;
  const assigned = new Set(fixture.assignments.map((a) => a.referee.id));
  const started = hasStarted(fixture.date); // staging would be refused (FIXTURE_PLAYED)
  const card = useRef(null);
  // A refusal shows on this fixture's card, where the button was pressed.
  const { run: act, error } = useAction(onChanged);
  async function remove(a) {
    await act(REMOVE[a.status], { f: fixture.id, r: a.referee.id });
    // The Remove button is gone with the assignment: the keyboard stays on this fixture.
    card.current?.focus();
  }
  return html`<article class="card" id=${`board-${fixture.id}`} tabindex="-1" ref=${card} aria-label=${`Board: ${label}`}>
    <${FixtureHeader} fixture=${fixture} />
    <h4>Assignments</h4>
    ${fixture.assignments.length === 0
      ? html`<p class="muted" key="none">No referee yet.</p>`
      : html`<ul class="plain" key="assignments">${fixture.assignments.map((a) => html`<li key=${`${a.referee.id}`}>
          <${Badge} kind=${a.status.toLowerCase()}>${a.status === 'STAGED' ? 'Staged' : 'Committed'}</${Badge}>
          ${' '}${a.role === 'FIRST' ? 'First' : 'Second'}: ${a.referee.name}
          <button type="button" class="link" aria-label=${`Remove ${a.referee.name} from ${label}`}
            onClick=${() => remove(a)}>Remove</button>
          ${problems.filter((p) => p.referee.id === a.referee.id).map((p) => html`<p class="problem" data-code=${p.code}>
            ${problemText({ ...p, role: a.role }, names)}</p>`)}
        </li>`)}</ul>`}
    <h4 key="available-title">Available referees</h4>
    ${started && html`<p class="muted" key="played">Already played: it takes no new referees.</p>`}
    ${!started && fixture.availableReferees.length === 0 && html`<p class="muted" key="nobody">Nobody has declared availability.</p>`}
    ${!started && fixture.availableReferees.length > 0 && html`<ul class="plain available" key="available">${fixture.availableReferees.map((r) => html`<li key=${r.id}>
          <span>${r.name} <span class="muted">(${r.club})</span>${assigned.has(r.id) ? ' ✓' : ''}</span>
          <span class="buttons">${ROLES.map(([role, name]) => html`<button type="button" class="small" key=${role}
            aria-label=${`Stage ${r.name} as ${name.toLowerCase()} referee of ${label}`}
            onClick=${() => act(STAGE, { input: { fixtureId: fixture.id, refereeId: r.id, role } })}>${name}</button>`)}</span>
        </li>`)}</ul>`}
    <${Alert} error=${error} />
  </article>`;
}
