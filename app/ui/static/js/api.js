// The app is a client of Whistle's own GraphQL API: queries and mutations over POST /graphql,
// subscriptions over the graphql-transport-ws protocol on the same URL.
import { createClient } from '../vendor/graphql-ws/client.mjs';
import { markDown, markUp, reconnectDelay } from './connection.js';

const TOKEN_KEY = 'whistle.token';

/** The access token the user pasted (jwt mode). Without one the browser may still send the
 * server's HTTP-only access_token cookie, which the API accepts too. */
export const token = {
  get: () => localStorage.getItem(TOKEN_KEY),
  set(value) {
    localStorage.setItem(TOKEN_KEY, value);
    closeSocket(); // the socket authenticated with the old token
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    closeSocket();
  },
};

// Called when the server says the sign-in session has ended (WHISTLE_AUTH=oidc).
let sessionEnded = null;
export function whenSessionEnds(handler) {
  sessionEnded = handler;
}

/** A refused operation: the API's `errors`, each with `extensions.code` and `.reason`. */
export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join(' '));
    this.errors = errors;
  }

  has(code) {
    return this.errors.some((e) => e.extensions?.code === code);
  }
}

export async function gql(query, variables = {}) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers,
      credentials: 'same-origin',
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    markDown();
    throw new ApiError([{ message: 'The server cannot be reached.', extensions: { code: 'NETWORK' } }]);
  }
  markUp();
  const body = await response.json().catch(() => null);
  if (body === null) {
    throw new ApiError([{ message: `The server answered HTTP ${response.status}.`, extensions: { code: 'HTTP' } }]);
  }
  if (body.errors?.length) {
    if (sessionEnded && body.errors.some((e) => e.extensions?.reason === 'SESSION_ENDED')) sessionEnded();
    throw new ApiError(body.errors);
  }
  return body.data;
}

// --- subscriptions: one socket for the whole page ---------------------------------------------

let socket = null;
let connected = false;
const connectionListeners = new Set();

function setConnected(value) {
  connected = value;
  connectionListeners.forEach((listener) => listener(value));
}

function openSocket() {
  if (socket === null) {
    socket = createClient({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
      // The token goes in connection_init; without one the handshake's cookie is used.
      connectionParams: () => (token.get() ? { token: token.get() } : {}),
      lazy: true,
      retryAttempts: Infinity, // phones lose the network; come back when it does
      shouldRetry: () => true, // a server restarting (1012) included: another instance answers
      retryWait: reconnectDelay, // backoff with jitter, capped so a page is live again soon
      on: {
        connected: () => setConnected(true),
        closed: (event) => {
          setConnected(false);
          if (event?.code === 4401 && sessionEnded) sessionEnded(); // the session ended (app.security.ws_session)
        },
      },
    });
  }
  return socket;
}

/** The reason of a refused subscription (graphql-ws hands over the `error` message's errors). */
function reasonOf(error) {
  return Array.isArray(error) ? error.map((e) => e.extensions?.reason ?? e.extensions?.code).find(Boolean) : null;
}

function closeSocket() {
  socket?.dispose();
  socket = null;
  setConnected(false);
}

/** Start a subscription; `onData(data)` for each event, `onLive(bool)` when the socket
 * connects or drops. Returns the function that stops it.
 *
 * Resuming: when the query declares `$after: String`, passes it as the field's `after`
 * and selects `eventId`, the last event id received is kept in the payload that
 * graphql-ws sends again on every reconnect, so the events missed while away come first,
 * none twice. A subscription cut off for falling behind resumes the same way; one whose
 * id is too old (CURSOR_EXPIRED) starts again from now. */
export function subscribe(query, variables, onData, onLive = () => {}) {
  const client = openSocket();
  connectionListeners.add(onLive);
  onLive(connected);
  const payload = { query, variables: { ...variables } };
  let stop = () => {};
  const start = () => {
    stop = client.subscribe(payload, {
      next: (result) => {
        if (!result.data) return;
        const eventId = Object.values(result.data)[0]?.eventId;
        if (eventId) payload.variables.after = eventId;
        onData(result.data);
      },
      error: (error) => {
        const reason = reasonOf(error);
        if (reason === 'CURSOR_EXPIRED') delete payload.variables.after;
        if (reason === 'CURSOR_EXPIRED' || reason === 'SUBSCRIPTION_OVERFLOW') start();
        else console.warn('subscription refused', error);
      },
      complete: () => {},
    });
  };
  start();
  return () => {
    connectionListeners.delete(onLive);
    stop();
  };
}
