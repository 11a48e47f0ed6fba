// The one place that imports the vendored libraries: pages import from here.
import { h, render } from '../vendor/preact/preact.module.js';
import htm from '../vendor/htm/htm.module.js';

export { render };
export { useCallback, useEffect, useMemo, useRef, useState } from '../vendor/preact/hooks.module.js';

/** JSX-like templates without a build step: html`<p class=${cls}>${text}</p>`. */
export const html = htm.bind(h);
