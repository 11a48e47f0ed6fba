// Signing in. oidc mode: one button to the association's identity provider. jwt mode without
// a token: the person pastes the access token their association gave them.
import { ApiError, gql, token } from '../api.js';
import { useForm } from '../hooks.js';
import { html } from '../lib.js';
import { Alert, Field, focusFirstError } from '../ui.js';
import { VIEWER } from '../viewer.js';
import { loginUrl } from '../session.js';

export function ProviderSignInPage({ problem }) {
  return html`<section class="card signin" aria-label="Sign in">
    <p>Sign in with your association account to see your fixtures and assignments.</p>
    <${Alert} error=${problem} />
    <div class="actions"><button type="button" onClick=${() => location.assign(loginUrl())}>Sign in</button></div>
  </section>`;
}

export function SignInPage({ problem, onSignedIn }) {
  const form = useForm({ token: '' });
  async function onSubmit(event) {
    event.preventDefault();
    const element = event.currentTarget;
    const signedIn = await form.submit(async ({ token: value }) => {
      token.set(value.trim());
      try {
        const { viewer } = await gql(VIEWER);
        if (viewer.role === 'ANONYMOUS') throw new ApiError([{ message: 'The server saw no token; paste it again.' }]);
      } catch (error) {
        token.clear();
        throw error;
      }
    }, () => 'token');
    if (signedIn) onSignedIn();
    else focusFirstError(element);
  }
  return html`<section class="card signin" aria-label="Sign in">
    <p>This Whistle server needs an access token. Paste the one your association gave you
      (an administrator can mint one with <code>whistle token</code>).</p>
    <${Alert} error=${problem} />
    <form onSubmit=${onSubmit}>
      <${Field} id="signin-token" label="Access token" type="password" autocomplete="off" required
        error=${form.errors.token} ...${form.bind('token')} />
      <div class="actions"><button type="submit" disabled=${form.busy}>Sign in</button></div>
    </form>
  </section>`;
}
