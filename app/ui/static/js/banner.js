// The banner that says the server cannot be reached, for as long as that lasts, on every page.
import { isReachable, onReachable } from './connection.js';
import { html, useEffect, useState } from './lib.js';

export function ConnectionBanner() {
  const [reachable, setReachable] = useState(isReachable);
  useEffect(() => onReachable(setReachable), []);
  // The live region is always there, so that screen readers announce the change.
  return html`<div class="connection" aria-live="assertive">
    ${!reachable && html`<p class="banner">
      <strong>Offline:</strong> the server cannot be reached. Nothing is saved until it is back;
      this page reconnects and reloads by itself.</p>`}
  </div>`;
}
