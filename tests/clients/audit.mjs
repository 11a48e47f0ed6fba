// The GraphQL-over-HTTP conformance audit (graphql-http's serverAudits) against a server.
// Usage: node audit.mjs URL [HEADERS_JSON]. Prints one JSON line per audit:
// {"id", "name", "status": "ok" | "notice" | "warn" | "error", "reason"?}.
import { serverAudits } from 'graphql-http';

const [url, headersJson] = process.argv.slice(2);
const extraHeaders = headersJson ? JSON.parse(headersJson) : {};

// Every audit request carries the given headers (e.g. a token when the server runs with auth).
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);
  return fetch(input, { ...init, headers });
};

for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') line.reason = result.reason;
  console.log(JSON.stringify(line));
}
