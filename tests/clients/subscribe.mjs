// One subscription through a real third-party client, over HTTP (no WebSocket):
//   node subscribe.mjs sse|apollo URL QUERY VARIABLES_JSON HEADERS_JSON COUNT
// `sse`: graphql-sse's client in distinct connections mode (text/event-stream);
// `apollo`: Apollo Client's HttpLink, which streams subscriptions as multipart/mixed.
// Prints one JSON line per event: {"result": ...}, {"error": ...} or {"complete": true};
// stops (and so disconnects) after COUNT results.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { createClient } from 'graphql-sse';

const [kind, url, query, variablesJson, headersJson, countText] = process.argv.slice(2);
const variables = JSON.parse(variablesJson || '{}');
const headers = JSON.parse(headersJson || '{}');
const count = Number(countText || '1');
const print = (line) => console.log(JSON.stringify(line));

let seen = 0;
let stop = () => {};
const done = new Promise((resolve) => {
  stop = resolve;
});
const onResult = (result) => {
  print({ result });
  seen += 1;
  if (seen >= count) stop();
};
const onError = (error) => {
  print({ error: error?.errors ?? error?.message ?? String(error) });
  stop();
};
const onComplete = () => {
  print({ complete: true });
  stop();
};

if (kind === 'sse') {
  const client = createClient({ url, headers, singleConnection: false, retryAttempts: 0 });
  const unsubscribe = client.subscribe({ query, variables }, { next: onResult, error: onError, complete: onComplete });
  await done;
  unsubscribe();
  client.dispose();
} else if (kind === 'apollo') {
  const client = new ApolloClient({ link: new HttpLink({ uri: url, headers }), cache: new InMemoryCache() });
  const subscription = client
    .subscribe({ query: gql(query), variables, errorPolicy: 'all' })
    .subscribe({
      next: ({ data, error }) => onResult(error ? { data, errors: error.errors ?? [{ message: error.message }] } : { data }),
      error: onError,
      complete: onComplete,
    });
  await done;
  subscription.unsubscribe();
  client.stop();
} else {
  throw new Error(`unknown client ${kind}`);
}
process.exit(0);
