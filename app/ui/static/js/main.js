// The app shell: asks the API who is calling, then shows the pages that role may use.
// Pages are addressed by the URL fragment (#/fixtures), so the server serves one page.
import { ApiError, gql, token, whenSessionEnds } from './api.js';
import { ConnectionBanner } from './banner.js';
import { onReachable } from './connection.js';
import { html, render, useEffect, useRef, useState } from './lib.js';
import { BoardPage } from './pages/board.js';
import { RefereesPage, TeamsPage, VenuesPage } from './pages/directory.js';
import { FixturesPage } from './pages/fixtures.js';
import { RefereePage } from './pages/referee.js';
import { ProviderSignInPage, SignInPage } from './pages/signin.js';
import { sessionStatus, signInAgain, signOut } from './session.js';
import { VIEWER, isAdmin } from './viewer.js';

const PAGES = [
  { path: 'fixtures', title: () => 'Fixtures', Page: FixturesPage, may: () => true },
  { path: 'board', title: () => 'Assignment board', Page: BoardPage, may: isAdmin },
  { path: 'me', title: (v) => (isAdmin(v) ? 'Act as referee' : 'My fixtures'), Page: RefereePage, may: () => true },
  { path: 'referees', title: () => 'Referees', Page: RefereesPage, may: () => true },
  { path: 'teams', title: () => 'Teams', Page: TeamsPage, may: () => true },
  { path: 'venues', title: () => 'Venues', Page: VenuesPage, may: () => true },
];

function useFragment() {
  const read = () => location.hash.replace(/^#\/?/, '');
  const [fragment, setFragment] = useState(read);
  useEffect(() => {
    const changed = () => setFragment(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return fragment;
}

function App() {
  const [state, setState] = useState({ viewer: null, problem: null });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    whenSessionEnds(signInAgain);
    // The session first: /auth/status forgets an ended session's cookie, so the viewer is anonymous then.
    sessionStatus().then((session) => gql(VIEWER).then(
      ({ viewer }) => setState({ viewer, session, problem: null }),
      (problem) => {
        // Unreachable: ask again once the server is back (the banner says so meanwhile).
        if (problem instanceof ApiError && problem.has('NETWORK')) {
          const stop = onReachable(() => { stop(); setVersion((v) => v + 1); });
          return;
        }
        // A stored token the server refuses (expired, revoked): forget it and ask again.
        if (problem instanceof ApiError && problem.has('UNAUTHENTICATED')) token.clear();
        setState({ viewer: { role: 'ANONYMOUS' }, session, problem });
      },
    ));
  }, [version]);
  const signedIn = () => setVersion((v) => v + 1);
  const { viewer, session, problem } = state;
  if (viewer === null) return html`<${ConnectionBanner} /><p class="loading">Loading Whistle…</p>`;
  if (viewer.role === 'ANONYMOUS') {
    const page = session ? html`<${ProviderSignInPage} problem=${problem} />` : html`<${SignInPage} problem=${problem} onSignedIn=${signedIn} />`;
    return html`<${Shell} viewer=${viewer} pages=${[]}>${page}</${Shell}>`;
  }
  const onSignOut = session?.signedIn ? signOut : () => { token.clear(); signedIn(); };
  return html`<${Routed} viewer=${viewer} session=${session} onSignOut=${onSignOut} />`;
}

function Routed({ viewer, session, onSignOut }) {
  const fragment = useFragment();
  const pages = PAGES.filter((p) => p.may(viewer));
  const page = pages.find((p) => p.path === fragment) ?? pages.find((p) => p.path === (isAdmin(viewer) ? 'fixtures' : 'me'));
  return html`<${Shell} viewer=${viewer} session=${session} pages=${pages} current=${page} onSignOut=${onSignOut}>
    <${page.Page} key=${page.path} viewer=${viewer} />
  </${Shell}>`;
}

function Shell({ viewer, session, pages, current, onSignOut, children }) {
  const heading = useRef(null);
  const title = current ? current.title(viewer) : 'Sign in';
  useEffect(() => {
    document.title = `${title} · Whistle`;
    // After navigation, keyboard and screen-reader users start at the new page's heading.
    if (current && document.activeElement?.closest('nav')) heading.current?.focus();
    // On a phone the pages are one row that scrolls sideways: keep the current one in sight.
    document.querySelector('.top nav [aria-current="page"]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [title]);
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); heading.current?.focus(); }}>Skip to content</a>
    <header class="top">
      <div class="brand"><img src="/static/whistle.svg" alt="" width="28" height="28" /> Whistle</div>
      ${pages.length > 0 && html`<nav aria-label="Pages"><ul>
        ${pages.map((p) => html`<li><a href=${`#/${p.path}`} aria-current=${p === current ? 'page' : undefined}>${p.title(viewer)}</a></li>`)}
      </ul></nav>`}
      ${viewer.role !== 'ANONYMOUS' && html`<div class="who">
        ${session?.signedIn && html`<span class="name">${session.name}</span>`}
        <span>${viewer.role === 'ADMIN' ? 'Admin' : 'Referee'}${viewer.referee ? `: ${viewer.referee.name}` : ''}</span>
        ${(token.get() || session?.signedIn) && html`<button type="button" class="link" onClick=${onSignOut}>Sign out</button>`}
      </div>`}
    </header>
    <${ConnectionBanner} />
    <main id="main">
      <h1 tabindex="-1" ref=${heading}>${title}</h1>
      ${children}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
