// Referees, teams and venues: a list with details on demand, and (for the admin) a create form.
// The three pages differ only in their fields and details: one component, three descriptions.
import { gql } from '../api.js';
import { fieldsOf } from '../errors.js';
import { FIXTURE_FIELDS, FixtureHeader } from '../fixture.js';
import { match, showDateTime } from '../format.js';
import { useForm, useQuery } from '../hooks.js';
import { html, useState } from '../lib.js';
import { Field, FormAlert, Loading, Note, focusFirstError } from '../ui.js';

const REFEREES = {
  kind: 'referee',
  plural: 'Referees',
  list: '{ items: referees { id name club } }',
  create: 'mutation($input: CreateRefereeInput!) { createReferee(input: $input) { id } }',
  fields: [
    { name: 'name', label: 'Name', required: true },
    { name: 'club', label: 'Club', required: true },
  ],
  summary: (r) => r.club,
  details: `query($id: ID!) { item: referee(id: $id) {
    assignments { role status fixture { ${FIXTURE_FIELDS} } } } }`,
  Details: ({ item }) => html`<h4>Assignments</h4>
    ${item.assignments.length === 0
      ? html`<p>None yet.</p>`
      : html`<ul class="plain">${item.assignments.map((a) => html`<li>
          ${roleName(a.role)} (${a.status === 'STAGED' ? 'planned' : 'committed'}): ${match(a.fixture)}, ${showDateTime(a.fixture.date)}
        </li>`)}</ul>`}`,
};

const TEAMS = {
  kind: 'team',
  plural: 'Teams',
  list: '{ items: teams { id name club } }',
  create: 'mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }',
  fields: REFEREES.fields,
  summary: (t) => t.club,
  details: `query($id: ID!, $from: DateTime!) { fixtures(teamId: $id, first: 10, from: $from) {
    edges { node { ${FIXTURE_FIELDS} } } } }`,
  Details: ({ data }) => html`<h4>Next fixtures</h4>
    ${data.fixtures.edges.length === 0
      ? html`<p>None scheduled.</p>`
      : html`<ul class="plain">${data.fixtures.edges.map(({ node }) => html`<li><${FixtureHeader} fixture=${node} level=${5} /></li>`)}</ul>`}`,
};

const VENUES = {
  kind: 'venue',
  plural: 'Venues',
  list: '{ items: venues { id name street zip city telephone email } }',
  create: 'mutation($input: CreateVenueInput!) { createVenue(input: $input) { id } }',
  fields: [
    { name: 'name', label: 'Name', required: true },
    { name: 'street', label: 'Street', required: true },
    { name: 'zip', label: 'Postcode', required: true },
    { name: 'city', label: 'City', required: true },
    { name: 'telephone', label: 'Telephone (optional)', type: 'tel' },
    { name: 'email', label: 'Email (optional)', type: 'email' },
  ],
  summary: (v) => v.city,
  Details: ({ item }) => html`<dl class="facts">
    <dt>Address</dt><dd>${item.street}, ${item.zip} ${item.city}</dd>
    ${item.telephone && html`<dt>Telephone</dt><dd><a href=${`tel:${item.telephone}`}>${item.telephone}</a></dd>`}
    ${item.email && html`<dt>Email</dt><dd><a href=${`mailto:${item.email}`}>${item.email}</a></dd>`}
  </dl>`,
};

const roleName = (role) => (role === 'FIRST' ? 'First referee' : 'Second referee');

export const RefereesPage = ({ viewer }) => html`<${DirectoryPage} viewer=${viewer} about=${REFEREES} />`;
export const TeamsPage = ({ viewer }) => html`<${DirectoryPage} viewer=${viewer} about=${TEAMS} />`;
export const VenuesPage = ({ viewer }) => html`<${DirectoryPage} viewer=${viewer} about=${VENUES} />`;

function DirectoryPage({ viewer, about }) {
  const list = useQuery(about.list);
  const items = list.data?.items;
  return html`
    ${viewer.role === 'ADMIN' && html`<${CreateForm} about=${about} onCreated=${list.reload} />`}
    <section aria-labelledby=${`${about.kind}-list`}>
      <h2 id=${`${about.kind}-list`}>All ${about.plural.toLowerCase()}${items ? ` (${items.length})` : ''}</h2>
      <${Loading} query=${list} />
      ${items && html`<ul class="cards directory">
        ${items.map((item) => html`<li key=${item.id}><${Entry} about=${about} item=${item} /></li>`)}
      </ul>`}
    </section>`;
}

/** One entry: its name and summary; the details load when it is opened. */
function Entry({ about, item }) {
  const [open, setOpen] = useState(false);
  return html`<details class="card entry" onToggle=${(e) => setOpen(e.currentTarget.open)}>
    <summary><strong>${item.name}</strong> <span class="muted">${about.summary(item)}</span></summary>
    ${open && (about.details ? html`<${LoadedDetails} about=${about} item=${item} />` : html`<${about.Details} item=${item} />`)}
  </details>`;
}

function LoadedDetails({ about, item }) {
  // `from` (now, for "next fixtures") is fixed when the details open, so the query runs once.
  const [variables] = useState(() => ({ id: item.id, from: new Date().toISOString() }));
  const details = useQuery(about.details, variables);
  return html`<${Loading} query=${details} />
    ${details.data && html`<${about.Details} item=${{ ...item, ...details.data.item }} data=${details.data} />`}`;
}

function CreateForm({ about, onCreated }) {
  const empty = Object.fromEntries(about.fields.map((f) => [f.name, '']));
  const form = useForm(empty);
  const [created, setCreated] = useState(null);
  const fieldOf = fieldsOf(about.fields.map((f) => f.name));
  async function onSubmit(event) {
    event.preventDefault();
    const element = event.currentTarget;
    setCreated(null);
    const name = form.values.name;
    if (await form.submit((input) => gql(about.create, { input }), fieldOf)) {
      form.reset();
      setCreated(`${name} added.`);
      onCreated();
    } else {
      focusFirstError(element);
    }
  }
  return html`<section aria-labelledby=${`new-${about.kind}`}>
    <h2 id=${`new-${about.kind}`}>New ${about.kind}</h2>
    <form class="card form-grid" onSubmit=${onSubmit}>
      ${about.fields.map((f) => html`<${Field} id=${`new-${about.kind}-${f.name}`} label=${f.label} type=${f.type ?? 'text'}
        required=${f.required ?? false} error=${form.errors[f.name]} ...${form.bind(f.name)} />`)}
      <${FormAlert} form=${form} />
      <div class="actions"><button type="submit" aria-disabled=${form.busy ? 'true' : undefined}>Add ${about.kind}</button></div>
      <${Note}>${created}</${Note}>
    </form>
  </section>`;
}
