// How a fixture is shown wherever it appears: when, who plays, where, whether it is on.
import { match, showDateTime } from './format.js';
import { html } from './lib.js';
import { Badge } from './ui.js';

/** The fields FixtureHeader needs, for the pages' queries. */
export const FIXTURE_FIELDS = 'id date status venue { id name city } teamHome { id name } teamAway { id name }';

export function FixtureHeader({ fixture, level = 3 }) {
  const Heading = `h${level}`;
  return html`<header class="fixture-header">
    <${Heading} class="fixture-match">${match(fixture)}</${Heading}>
    <p class="fixture-meta">
      <time datetime=${fixture.date}>${showDateTime(fixture.date)}</time>
      <span> · ${fixture.venue.name}${fixture.venue.city ? `, ${fixture.venue.city}` : ''}</span>
      ${fixture.status === 'CANCELLED' && html` <${Badge} kind="cancelled">Cancelled</${Badge}>`}
    </p>
  </header>`;
}
