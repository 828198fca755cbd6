// Roster's reference admin console: the "Teams & Users" page over the public GraphQL API.
// Signing in is a bearer token (pasted, from `#token=…` in the URL, or in the demo a role
// picked from /console/demo-tokens); every screen then shows what that caller's role lets
// the API do, and nothing else.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { graphql } from "../gql";
import { ApiError, request, storedToken, storeToken } from "./api";
import { ErrorNote, ViewerContext, asApiError, type Permission, type Viewer } from "./common";
import { normalizeToken, takeTokenFromHash } from "./logic.js";
import { UsersScreen } from "./users";
import { InvitesScreen } from "./invites";
import { InviteScreen } from "./invite";
import { OrgScreen } from "./org";
import { RolesScreen } from "./roles";
import { AuditScreen } from "./audit";

const ViewerDocument = graphql(`
  query Viewer {
    viewer {
      id
      name
      email
      role { id name scope permissions }
      team { id name department { id name } }
    }
  }
`);

/** The organization's name, for callers whose role grants any permission (a role without
 * any sees only `viewer`). */
const AccountDocument = graphql(`
  query ConsoleAccount {
    account { id name }
  }
`);

type Screen = "me" | "users" | "invites" | "invite" | "org" | "roles" | "audit";

/** The screens, and the permission each needs (none: everyone sees it). */
const SCREENS: { id: Screen; label: string; needs: Permission[] }[] = [
  { id: "users", label: "Users", needs: ["USERS_VIEW"] },
  { id: "invites", label: "Invited users", needs: ["USERS_VIEW"] },
  { id: "invite", label: "Invite users", needs: ["USERS_INVITE"] },
  { id: "org", label: "Teams & departments", needs: ["TEAMS_MANAGE", "USERS_VIEW"] },
  { id: "roles", label: "Roles", needs: ["ROLES_MANAGE", "USERS_VIEW"] },
  { id: "audit", label: "Audit log", needs: ["AUDIT_VIEW"] },
  { id: "me", label: "Me", needs: [] },
];

function screensFor(viewer: Viewer) {
  return SCREENS.filter(
    (s) => s.needs.length === 0 || s.needs.some((p) => viewer.role.permissions.includes(p)),
  );
}

function App() {
  const [token, setToken] = useState<string | null>(() => {
    const fromHash = takeTokenFromHash(window.location.hash);
    if (fromHash) {
      storeToken(fromHash.token);
      // The token must not stay in the address bar, the history or a bookmark.
      history.replaceState(null, "", window.location.pathname + window.location.search + fromHash.rest);
    }
    return storedToken();
  });
  const [signInError, setSignInError] = useState<ApiError | null>(null);
  const signIn = (t: string | null) => {
    storeToken(t);
    setToken(t);
  };
  if (!token) return <SignIn error={signInError} onSignIn={(t) => signIn(t)} />;
  return (
    <SignedIn
      key={token}
      onSignOut={(why) => {
        setSignInError(why);
        signIn(null);
      }}
    />
  );
}

function SignIn(props: { error: ApiError | null; onSignIn: (token: string) => void }) {
  const [text, setText] = useState("");
  const [demo, setDemo] = useState<Record<string, string> | null>(null);
  useEffect(() => {
    // Only `roster demo` answers this; elsewhere it is a 404 and the picker stays hidden.
    fetch("/console/demo-tokens")
      .then((r) => (r.ok ? r.json() : null))
      .then((tokens) => setDemo(tokens && typeof tokens === "object" ? tokens : null))
      .catch(() => setDemo(null));
  }, []);
  return (
    <main class="sign-in">
      <h1>Roster console</h1>
      <ErrorNote error={props.error} />
      {demo && (
        <section aria-labelledby="demo-title">
          <h2 id="demo-title">Demo: sign in as</h2>
          <ul class="role-picker">
            {Object.entries(demo).map(([role, t]) => (
              <li key={role}>
                <button type="button" class="primary" onClick={() => props.onSignIn(t)}>
                  {role}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const t = normalizeToken(text);
          if (t) props.onSignIn(t);
        }}
      >
        <label for="token">Access token (a JWT, as `roster token` prints it)</label>
        <textarea id="token" rows={4} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <p class="muted">Kept in this tab only (sessionStorage) until you sign out.</p>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function SignedIn(props: { onSignOut: (why: ApiError | null) => void }) {
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [account, setAccount] = useState<string>("");
  const [error, setError] = useState<ApiError | null>(null);
  const [screen, setScreen] = useState<Screen | null>(null);
  useEffect(() => {
    request(ViewerDocument).then(
      (data) => {
        setViewer(data.viewer);
        setScreen(screensFor(data.viewer)[0]?.id ?? "me");
        if (data.viewer.role.permissions.length > 0) {
          request(AccountDocument).then(
            (more) => setAccount(more.account.name),
            () => setAccount(""),
          );
        }
      },
      (e) => {
        const err = asApiError(e);
        if (err.code === "UNAUTHENTICATED") props.onSignOut(err);
        else setError(err);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  if (!viewer || !screen) {
    return (
      <main>
        <ErrorNote error={error} />
        {!error && <p>Loading…</p>}
        <button type="button" onClick={() => props.onSignOut(null)}>
          Sign out
        </button>
      </main>
    );
  }
  const screens = screensFor(viewer);
  return (
    <ViewerContext.Provider value={viewer}>
      <header class="top">
        <span class="brand">{account ? `Roster · ${account}` : "Roster"}</span>
        <nav aria-label="Screens">
          <ul>
            {screens.map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  aria-current={s.id === screen ? "page" : undefined}
                  onClick={() => setScreen(s.id)}
                >
                  {s.label}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who" id="who">
          {viewer.name} · {viewer.role.name}
        </span>
        <button type="button" onClick={() => props.onSignOut(null)}>
          Sign out
        </button>
      </header>
      <main id="screen">
        {screen === "users" && <UsersScreen />}
        {screen === "invites" && <InvitesScreen />}
        {screen === "invite" && <InviteScreen />}
        {screen === "org" && <OrgScreen />}
        {screen === "roles" && <RolesScreen />}
        {screen === "audit" && <AuditScreen />}
        {screen === "me" && <Me viewer={viewer} />}
      </main>
    </ViewerContext.Provider>
  );
}

function Me({ viewer }: { viewer: Viewer }) {
  return (
    <section aria-labelledby="me-title">
      <h2 id="me-title">Me</h2>
      <dl class="facts">
        <dt>Name</dt>
        <dd>{viewer.name}</dd>
        <dt>Email</dt>
        <dd>{viewer.email}</dd>
        <dt>Team</dt>
        <dd>
          {viewer.team.name}
          {viewer.team.department ? ` (${viewer.team.department.name})` : ""}
        </dd>
        <dt>Role</dt>
        <dd>
          {viewer.role.name} · scope {viewer.role.scope}
        </dd>
        <dt>Permissions</dt>
        <dd>{viewer.role.permissions.length ? viewer.role.permissions.join(", ") : "none"}</dd>
      </dl>
    </section>
  );
}

const root = document.getElementById("console");
if (root) render(<App />, root);
