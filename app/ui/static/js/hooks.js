// Data hooks over api.js: a query that re-runs when its variables change, a live subscription.
import { ApiError, gql, subscribe } from './api.js';
import { useEffect, useRef, useState } from './lib.js';

/** `{data, error, loading, reload}` of a query; the previous data stays shown while reloading. */
export function useQuery(query, variables = {}) {
  const key = JSON.stringify(variables);
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    gql(query, variables).then(
      (data) => current && setState({ data, error: null, loading: false }),
      (error) => current && setState({ data: null, error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [query, key, version]);
  return { ...state, reload: () => setVersion((v) => v + 1) };
}

/** Follow a subscription while the component is shown (`variables` null: not now);
 * returns whether the socket is connected, i.e. whether the page is live. */
export function useSubscription(query, variables, onData) {
  const handler = useRef(onData);
  handler.current = onData;
  const [live, setLive] = useState(false);
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (variables === null) return undefined;
    return subscribe(query, variables, (data) => handler.current(data), setLive);
  }, [query, key]);
  return live;
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
    setBusy(true);
    setErrors({});
    try {
      await action(values);
      return true;
    } catch (error) {
      const problems = error instanceof ApiError ? error.errors : [{ message: String(error?.message ?? error) }];
      const found = {};
      for (const problem of problems) {
        const field = fieldOf(problem) ?? 'form';
        found[field] = found[field] ? `${found[field]} ${problem.message}` : problem.message;
      }
      setErrors(found);
      return false;
    } finally {
      setBusy(false);
    }
  }

  return { values, setValues, errors, busy, bind, submit, reset: () => setValues(initial) };
}

/** A button's mutation: `run(mutation, variables)` sends it, then calls `after()` (e.g. a
 * reload) whether it went through or not; `error` is the refusal to show next to the button. */
export function useAction(after = () => {}) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function run(mutation, variables) {
    setBusy(true);
    setError(null);
    try {
      await gql(mutation, variables);
    } catch (refusal) {
      setError(refusal);
    } finally {
      setBusy(false);
    }
    after();
  }
  return { run, error, busy };
}
