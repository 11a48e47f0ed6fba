// Fixtures: filter by date window, venue and team; the admin creates, re-dates, moves and cancels.
import { gql } from '../api.js';
import { allTo, fieldsOf } from '../errors.js';
import { FIXTURE_FIELDS, FixtureHeader } from '../fixture.js';
import { addDays, fromLocalInput, toLocalInput, today, windowVariables } from '../format.js';
import { useAction, useForm, useQuery } from '../hooks.js';
import { html, useEffect, useRef, useState } from '../lib.js';
import { Alert, DateWindow, Field, FormAlert, Loading, Note, focusFirstError, options } from '../ui.js';

const DIRECTORY = '{ venues { id name } teams { id name } }';

const PAGE_SIZE = 50;

const FIXTURES = `query Fixtures($from: DateTime, $to: DateTime, $venueId: ID, $teamId: ID, $after: String) {
  fixtures(from: $from, to: $to, venueId: $venueId, teamId: $teamId, first: ${PAGE_SIZE}, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${FIXTURE_FIELDS} firstReferee { id name } secondReferee { id name } } }
  }
}`;

const CREATE = `mutation($input: CreateFixtureInput!) { createFixture(input: $input) { id } }`;
const CHANGE_DATE = `mutation($id: ID!, $date: DateTime!) { changeFixtureDate(fixtureId: $id, date: $date) { id } }`;
const CHANGE_VENUE = `mutation($id: ID!, $venueId: ID!) { changeFixtureVenue(fixtureId: $id, venueId: $venueId) { id } }`;
const CANCEL = `mutation($id: ID!) { cancelFixture(fixtureId: $id) { id } }`;

export function FixturesPage({ viewer }) {
  const directory = useQuery(DIRECTORY);
  const [filter, setFilter] = useState({ from: today(), to: addDays(today(), 60), venueId: '', teamId: '' });
  const variables = { ...windowVariables(filter), venueId: filter.venueId || null, teamId: filter.teamId || null };
  const { page: found, reload, showMore, loadingMore, moreError, status } = usePagedFixtures(variables);
  const admin = viewer.role === 'ADMIN';
  const pick = (name) => (event) => setFilter({ ...filter, [name]: event.currentTarget.value });
  const venues = options(directory.data?.venues ?? []);
  const teams = options(directory.data?.teams ?? []);

  return html`
    ${admin && directory.data && html`<${CreateFixture} venues=${venues} teams=${teams} onCreated=${reload} />`}
    <section aria-labelledby="fixtures-list">
      <h2 id="fixtures-list" tabindex="-1">Schedule</h2>
      <form class="filters" role="search" aria-label="Filter fixtures" onSubmit=${(e) => e.preventDefault()}>
        <${DateWindow} prefix="filter" window=${filter} onChange=${(w) => setFilter({ ...filter, ...w })} />
        <${Field} id="filter-venue" label="Venue" options=${venues} placeholder="All venues" value=${filter.venueId} onChange=${pick('venueId')} />
        <${Field} id="filter-team" label="Team" options=${teams} placeholder="All teams" value=${filter.teamId} onChange=${pick('teamId')} />
      </form>
      <${Loading} query=${status} />
      ${found && html`<p class="count" aria-live="polite">${countText(found)}</p>
        <ul class="cards">
          ${found.edges.map(({ node }) => html`<li key=${node.id}>
            <${FixtureCard} fixture=${node} admin=${admin} venues=${venues} onChanged=${reload} />
          </li>`)}
        </ul>
        ${found.pageInfo.hasNextPage && html`<div class="actions more">
          <button type="button" class="secondary" aria-disabled=${loadingMore ? 'true' : undefined} onClick=${showMore}>Show more fixtures</button>
        </div>`}
        <${Alert} error=${moreError && `Not loaded: ${moreError.message.replace(/^The /, 'the ')}`} onRetry=${moreError?.errors?.some((e) => e.extensions?.code === 'NETWORK') ? showMore : undefined} />`}
    </section>`;
}

/** The fixtures of `variables`, a page at a time: `showMore()` appends the next page
 * (cursor pagination); new filters or `reload()` start again from the first page. */
function usePagedFixtures(variables) {
  const firstPage = useQuery(FIXTURES, variables);
  const key = JSON.stringify(variables);
  const [later, setLater] = useState(NO_MORE); // the pages after the first, for the filters of `key`
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState(null);
  const extra = later.key === key ? later : NO_MORE;
  const data = firstPage.data?.fixtures;
  const page = data && {
    totalCount: data.totalCount,
    edges: [...data.edges, ...extra.edges],
    pageInfo: extra.pageInfo ?? data.pageInfo,
  };
  async function showMore() {
    if (loadingMore) return;
    setLoadingMore(true);
    setError(null);
    try {
      const next = (await gql(FIXTURES, { ...variables, after: page.pageInfo.endCursor })).fixtures;
      setLater({ key, edges: [...extra.edges, ...next.edges], pageInfo: next.pageInfo });
    } catch (refusal) {
      setError(refusal);
    } finally {
      setLoadingMore(false);
    }
  }
  function reload() {
    setLater(NO_MORE);
    firstPage.reload();
  }
  return { page, reload, showMore, loadingMore, moreError: error, status: { data: page ?? null, error: firstPage.error ?? error, reload } };
}

const NO_MORE = { key: null, edges: [], pageInfo: null };

function countText({ totalCount, edges }) {
  if (totalCount === 0) return 'No fixtures match these filters.';
  const shown = edges.length < totalCount ? ` (showing ${edges.length})` : '';
  return `${totalCount} fixture${totalCount === 1 ? '' : 's'}${shown}`;
}

function CreateFixture({ venues, teams, onCreated }) {
  const form = useForm({ date: '', venueId: '', teamHomeId: '', teamAwayId: '' });
  const [created, setCreated] = useState(null);
  const fieldOf = fieldsOf(['date', 'venueId', 'teams']);
  async function onSubmit(event) {
    event.preventDefault();
    const element = event.currentTarget;
    setCreated(null);
    const ok = await form.submit(
      (v) => gql(CREATE, { input: { ...v, date: fromLocalInput(v.date) } }),
      fieldOf,
    );
    if (ok) {
      form.reset();
      setCreated('Fixture created.');
      onCreated();
    } else {
      focusFirstError(element);
    }
  }
  const { errors } = form;
  return html`<section aria-labelledby="create-fixture">
    <h2 id="create-fixture">New fixture</h2>
    <form class="card form-grid" onSubmit=${onSubmit}>
      <${Field} id="new-fixture-date" label="Date and time" type="datetime-local" required error=${errors.date} ...${form.bind('date')} />
      <${Field} id="new-fixture-venue" label="Venue" options=${venues} placeholder="Choose a venue" required error=${errors.venueId} ...${form.bind('venueId')} />
      <fieldset class="teams" aria-describedby=${errors.teams ? 'new-fixture-teams-error' : undefined}>
        <legend>Teams</legend>
        <${Field} id="new-fixture-home" label="Home team" options=${teams} placeholder="Choose the home team" required ...${form.bind('teamHomeId')} />
        <${Field} id="new-fixture-away" label="Away team" options=${teams} placeholder="Choose the away team" required ...${form.bind('teamAwayId')} />
        ${errors.teams && html`<p class="field-error" id="new-fixture-teams-error">${errors.teams}</p>`}
      </fieldset>
      <${FormAlert} form=${form} />
      <div class="actions"><button type="submit" aria-disabled=${form.busy ? 'true' : undefined}>Create fixture</button></div>
      <${Note}>${created}</${Note}>
    </form>
  </section>`;
}

function FixtureCard({ fixture, admin, venues, onChanged }) {
  const [editing, setEditing] = useState(false);
  const card = useRef(null);
  const panel = `edit-${fixture.id}`;
  const scheduled = fixture.status === 'SCHEDULED';
  // A change can take the fixture out of the list (a new date outside the filter): the keyboard
  // then goes on from the list's heading instead of falling back to the page's start.
  useEffect(() => () => setTimeout(() => {
    if (document.activeElement === document.body) document.getElementById('fixtures-list')?.focus();
  }, 0), []);
  // Cancelling closes the panel with the button in it: the keyboard stays on this fixture.
  useEffect(() => {
    if (!scheduled && document.activeElement === document.body) card.current?.focus();
  }, [scheduled]);
  return html`<article class="card fixture" tabindex="-1" ref=${card} aria-label=${`Fixture ${fixture.teamHome.name} – ${fixture.teamAway.name}`}>
    <${FixtureHeader} fixture=${fixture} />
    <p class="referees">
      First referee: ${fixture.firstReferee?.name ?? '—'} · Second referee: ${fixture.secondReferee?.name ?? '—'}
    </p>
    ${admin && scheduled && html`<button type="button" class="secondary" aria-expanded=${editing} aria-controls=${panel}
        onClick=${() => setEditing(!editing)}>${editing ? 'Close' : 'Change or cancel'}</button>`}
    ${editing && scheduled && html`<div id=${panel} class="edit-panel">
      <${ChangeDate} fixture=${fixture} onChanged=${onChanged} />
      <${ChangeVenue} fixture=${fixture} venues=${venues} onChanged=${onChanged} />
      <${CancelFixture} fixture=${fixture} onChanged=${onChanged} />
    </div>`}
  </article>`;
}

/** A one-field form for one change of a fixture: every error concerns that field. */
function ChangeForm({ fixture, field, label, initial, mutation, toVariables, onChanged, children }) {
  const form = useForm({ [field]: initial });
  async function onSubmit(event) {
    event.preventDefault();
    const element = event.currentTarget;
    if (await form.submit((v) => gql(mutation, { id: fixture.id, ...toVariables(v[field]) }), allTo(field))) onChanged();
    else focusFirstError(element);
  }
  return html`<form class="inline-form" onSubmit=${onSubmit}>
    ${children({ id: `${field}-${fixture.id}`, error: form.errors[field], required: true, ...form.bind(field) })}
    <button type="submit" aria-disabled=${form.busy ? 'true' : undefined}>${label}</button>
    <${FormAlert} form=${form} />
  </form>`;
}

const ChangeDate = ({ fixture, onChanged }) => html`<${ChangeForm} fixture=${fixture} field="date" label="Change date"
  initial=${toLocalInput(fixture.date)} mutation=${CHANGE_DATE} toVariables=${(date) => ({ date: fromLocalInput(date) })}
  onChanged=${onChanged}>${(props) => html`<${Field} label="New date and time" type="datetime-local" ...${props} />`}</${ChangeForm}>`;

const ChangeVenue = ({ fixture, venues, onChanged }) => html`<${ChangeForm} fixture=${fixture} field="venueId" label="Change venue"
  initial=${fixture.venue.id} mutation=${CHANGE_VENUE} toVariables=${(venueId) => ({ venueId })}
  onChanged=${onChanged}>${(props) => html`<${Field} label="New venue" options=${venues} ...${props} />`}</${ChangeForm}>`;

function CancelFixture({ fixture, onChanged }) {
  const [confirming, setConfirming] = useState(null); // null: never asked yet
  const { run, error, busy } = useAction(onChanged);
  const keep = useRef(null);
  const ask = useRef(null);
  // The button pressed is replaced by the question (and back): the keyboard follows.
  useEffect(() => {
    if (confirming !== null) (confirming ? keep : ask).current?.focus();
  }, [confirming]);
  const cancel = () => run(CANCEL, { id: fixture.id });
  return html`<div class="inline-form">
    ${confirming
      ? html`<p>Cancel ${fixture.teamHome.name} – ${fixture.teamAway.name}? Its referees are notified.</p>
          <div class="actions">
            <button type="button" class="danger" aria-disabled=${busy ? 'true' : undefined} onClick=${cancel}>Yes, cancel the fixture</button>
            <button type="button" class="secondary" ref=${keep} onClick=${() => setConfirming(false)}>Keep it</button>
          </div>`
      : html`<button type="button" class="danger" ref=${ask} onClick=${() => setConfirming(true)}>Cancel fixture…</button>`}
    <${Alert} error=${error} />
  </div>`;
}
