// Whether the server can be reached, as far as the page can tell: a request that could not
// reach it, or a live connection that dropped, says "down"; a request that got an answer, a
// live connection that (re)connected, or the health check says "up". While down the page
// asks /healthz every few seconds, so it notices the server's return even when nothing else
// is sent; on the way back up every query reloads (hooks.js) and the banner goes.

const HEALTH_EVERY_MS = 2000;

let reachable = true;
let polling = null;
const listeners = new Set();

/** `listener(reachable)` on every change; returns the function that stops listening. */
export function onReachable(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const isReachable = () => reachable;

function set(value) {
  if (value === reachable) return;
  reachable = value;
  if (reachable) stopPolling();
  else startPolling();
  listeners.forEach((listener) => listener(reachable));
}

export const markDown = () => set(false);
export const markUp = () => set(true);

function startPolling() {
  polling ??= setInterval(async () => {
    try {
      const response = await fetch('/healthz', { cache: 'no-store' });
      if (response.ok) markUp();
    } catch {
      // still down: the next tick asks again
    }
  }, HEALTH_EVERY_MS);
}

function stopPolling() {
  clearInterval(polling);
  polling = null;
}

/** graphql-ws `retryWait`: try again soon (about 1, 2, then every 3 s, with jitter), so a
 * live page is live again a few seconds after the server is back. */
export function reconnectDelay(retries) {
  const base = Math.min(1000 * 2 ** retries, 3000);
  return new Promise((resolve) => setTimeout(resolve, base + Math.random() * 500));
}
