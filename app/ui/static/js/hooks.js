// Data hooks over api.js: a query that re-runs when its variables change, a live subscription.
import { ApiError, gql, subscribe } from './api.js';
import { markDown, markUp, onReachable } from './connection.js';
import { useEffect, useRef, useState } from './lib.js';
import { isNetwork, refusalText } from './messages.js';

/** `{data, error, loading, reload}` of a query. The data shown stays while reloading and when
 * a reload fails (the page keeps what it had; `error` says why it is not fresh); when the
 * server is reachable again after an outage, the query reloads by itself. */
export function useQuery(query, variables = {}) {
  const key = JSON.stringify(variables);
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [version, setVersion] = useState(0);
  useEffect(() => onReachable((up) => up && setVersion((v) => v + 1)), []);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    gql(query, variables).then(
      (data) => current && setState({ data, error: null, loading: false }),
      (error) => current && setState((previous) => ({ data: isNetwork(error) ? previous.data : null, error, loading: false })),
    );
    return () => {
      current = false;
    };
  }, [query, key, version]);
  return { ...state, reload: () => setVersion((v) => v + 1) };
}

/** Follow a subscription while the component is shown (`variables` null: not now);
 * returns whether the socket is connected, i.e. whether the page is live. A connection that
 * drops marks the server unreachable (the banner); one that comes back, reachable. */
export function useSubscription(query, variables, onData) {
  const handler = useRef(onData);
  handler.current = onData;
  const [live, setLive] = useState(false);
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (variables === null) return undefined;
    let was = false;
    const follow = (now) => {
      if (now) markUp();
      else if (was) markDown();
      was = now;
      setLive(now);
    };
    return subscribe(query, variables, (data) => handler.current(data), follow);
  }, [query, key]);
  return live;
}

/** The problems of a refusal, each with the sentence to show (`text`, people's words). */
async function explain(error) {
  const problems = error instanceof ApiError ? error.errors : [{ message: String(error?.message ?? error) }];
  return Promise.all(problems.map(async (problem) => ({ ...problem, text: await refusalText(problem) })));
}

/** Form state: values, per-field errors from the API, busy while submitting.
 * `submit(action, fieldOf)` runs `action(values)`; each API error goes to the field
 * `fieldOf(error)` names, or to `form` (shown above the submit button). */
export function useForm(initial) {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);

  const bind = (name) => ({
    value: values[name] ?? '',
    onInput: (event) => setValues((v) => ({ ...v, [name]: event.currentTarget.value })),
  });

  async function submit(action, fieldOf = () => null) {
    if (busy) return false; // the button stays focusable while busy (aria-disabled), so guard here
    setBusy(true);
    setErrors({});
    try {
      await action(values);
      return true;
    } catch (error) {
      const found = {};
      for (const problem of await explain(error)) {
        const field = (problem.extensions?.code !== 'NETWORK' && fieldOf(problem)) || 'form';
        found[field] = found[field] ? `${found[field]} ${problem.text}` : problem.text;
      }
      // Not the input's fault: the form keeps it, and offers to send it again.
      if (isNetwork(error)) found.retry = true;
      setErrors(found);
      return false;
    } finally {
      setBusy(false);
    }
  }

  return { values, setValues, errors, busy, bind, submit, reset: () => setValues(initial) };
}

/** A button's mutation: `run(mutation, variables)` sends it, then calls `after()` (e.g. a
 * reload) whether it went through or not, unless the server could not be reached; `error`
 * is the refusal in people's words (`{text, retry}`: `retry()` sends the same again while
 * the server was unreachable), to show next to the button. `run` resolves to the data, or
 * to null when refused. */
export function useAction(after = () => {}) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function run(mutation, variables) {
    if (busy) return null;
    setBusy(true);
    setError(null);
    try {
      const data = await gql(mutation, variables);
      after(data);
      return data;
    } catch (refusal) {
      const text = (await explain(refusal)).map((p) => p.text).join(' ');
      const network = isNetwork(refusal);
      setError({ text, retry: network ? () => run(mutation, variables) : null });
      if (!network) after(null);
      return null;
    } finally {
      setBusy(false);
    }
  }
  return { run, error, busy, clear: () => setError(null) };
}
