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

/** A refusal next to what caused it: a string, an Error, or useAction's `{text, retry}`;
 * with a retry (the server could not be reached) a "Retry" button sends the same again. */
export function Alert({ error, onRetry }) {
  if (!error) return null;
  const retry = onRetry ?? error.retry;
  const again = (event) => {
    keepKeyboardNear(event.currentTarget);
    retry(event);
  };
  return html`<div class="alert" role="alert">
    <span>${error.text ?? error.message ?? error}</span>
    ${retry && html` <button type="button" class="secondary retry" onClick=${again}>Retry</button>`}
  </div>`;
}

/** "Retry" goes away with its message: the keyboard moves to what was retried, i.e. the
 * form's submit button, the button right before the message, or the card it is in. */
function keepKeyboardNear(retry) {
  const before = retry.parentElement.previousElementSibling;
  const target = retry.closest('form')?.querySelector('[type="submit"]')
    ?? (before?.matches('button') ? before : null)
    ?? retry.closest('[tabindex="-1"]');
  target?.focus();
}

/** A form's refusal that concerns no one field; "Retry" submits the form again (its input kept). */
export const FormAlert = ({ form }) => html`<${Alert} error=${form.errors.form}
  onRetry=${form.errors.retry ? (event) => event.currentTarget.form?.requestSubmit() : undefined} />`;

export const Note = ({ children }) => children && html`<p class="note" role="status">${children}</p>`;

/** Until a query has data: "Loading…", or why it has none (with Retry when the server
 * could not be reached). Once there is data a failed reload shows nothing here: the page
 * keeps what it had and the connection banner says why. */
export function Loading({ query }) {
  if (query.data !== null) return null;
  if (query.error) {
    const network = query.error.errors?.some((e) => e.extensions?.code === 'NETWORK');
    return html`<${Alert} error=${network ? 'The server cannot be reached.' : query.error} onRetry=${network ? query.reload : undefined} />`;
  }
  return html`<p class="loading">Loading…</p>`;
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
