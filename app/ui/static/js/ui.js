// Small shared components: labelled fields with their error, messages, the date window.
import { html } from './lib.js';

/** A labelled input or select (`options`: [{value, label}]) with the API's error for it
 * right below, tied to the control by aria-describedby. `id` must be unique on the page. */
export function Field({ id, label, error, options, placeholder, type = 'text', ...control }) {
  const errorId = `${id}-error`;
  const shared = { id, name: id, 'aria-invalid': error ? 'true' : 'false', 'aria-describedby': error ? errorId : undefined, ...control };
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${options
      ? html`<select ...${shared}>
          ${placeholder !== undefined && html`<option value="">${placeholder}</option>`}
          ${options.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
        </select>`
      : html`<input type=${type} ...${shared} />`}
    ${error && html`<p class="field-error" id=${errorId}>${error}</p>`}
  </div>`;
}

export const Alert = ({ error }) => error && html`<p class="alert" role="alert">${error.message ?? error}</p>`;

export const Note = ({ children }) => children && html`<p class="note" role="status">${children}</p>`;

export function Loading({ query }) {
  if (query.error) return html`<${Alert} error=${query.error} />`;
  return query.data === null && html`<p class="loading">Loading…</p>`;
}

export const Badge = ({ kind, children }) => html`<span class=${`badge badge-${kind}`}>${children}</span>`;

/** From/to dates (local days; `to` inclusive for the person, exclusive for the API). */
export function DateWindow({ prefix, window, onChange }) {
  const set = (name) => (event) => onChange({ ...window, [name]: event.currentTarget.value });
  return html`<${Field} id=${`${prefix}-from`} label="From" type="date" value=${window.from} onInput=${set('from')} />
    <${Field} id=${`${prefix}-to`} label="Until (inclusive)" type="date" value=${window.to} onInput=${set('to')} />`;
}

export const options = (items) => items.map((item) => ({ value: item.id, label: item.name }));

/** After a refused submit, put the keyboard (and a screen reader, which then reads the error
 * tied to it) on the first field the API complained about, once it has rendered. */
export function focusFirstError(form) {
  setTimeout(() => form.querySelector('[aria-invalid="true"]')?.focus(), 0);
}
