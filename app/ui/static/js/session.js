// Sign-in through the identity provider (WHISTLE_AUTH=oidc): the server keeps the session
// and its tokens; the browser only holds an HTTP-only cookie and asks /auth/status.

/** The session's status ({ signedIn, name, roles, ... }), or null when the server does not
 * sign people in itself (WHISTLE_AUTH=dev or jwt answer `loginUrl: null`). */
export async function sessionStatus() {
  try {
    const response = await fetch('/auth/status', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const status = await response.json();
    if (!response.ok) return { signedIn: false, loginUrl: '/auth/login' }; // 503: sessions unreadable for now
    return status.loginUrl === null ? null : status;
  } catch {
    return null;
  }
}

/** Where "Sign in" goes: the provider, and back to this very page (its #fragment included). */
export function loginUrl() {
  return `/auth/login?return_to=${encodeURIComponent(location.pathname + location.search + location.hash)}`;
}

/** The session ended while the person was working: sign in again, then come back here. */
export function signInAgain() {
  location.assign(loginUrl());
}

/** End the session here and, where the provider offers it, there too. */
export async function signOut() {
  const response = await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin' });
  const body = await response.json().catch(() => ({}));
  location.assign(body.logoutUrl ?? '/');
}
