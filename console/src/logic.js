// The console's own logic, apart from the screens so node's test runner can check it
// (test/logic.test.mjs) without a browser or a bundler. Plain JavaScript with JSDoc
// types: tsc checks it together with the TypeScript screens.

/** Scopes, narrowest first: the order "not wider than" compares by. */
export const SCOPES = /** @type {const} */ (["SELF", "TEAM", "DEPARTMENT", "ORGANIZATION"]);

/** Every permission, in the schema's order. */
export const PERMISSIONS = /** @type {const} */ ([
  "USERS_VIEW",
  "USERS_INVITE",
  "USERS_CHANGE_ROLE",
  "USERS_REASSIGN",
  "USERS_DELETE",
  "TEAMS_MANAGE",
  "ROLES_MANAGE",
  "AUDIT_VIEW",
  "INVITE_ANY_DOMAIN",
  "ACCOUNT_MANAGE",
]);

/**
 * Splits pasted text into email addresses: one per line, or separated by commas,
 * semicolons or spaces; `Name <address>` keeps the address. Blank entries are dropped;
 * anything else is kept as typed (trimmed) so the server can name what is wrong with it.
 * @param {string} text
 * @returns {string[]}
 */
export function parseEmails(text) {
  // Addresses in angle brackets are marked first, so "Ada Lovelace <ada@x>" is not
  // split at its spaces.
  const rest = text.replace(/<([^<>]*)>/g, (_, inner) => `\u0001${inner.trim()}\u0001`);
  /** @type {string[]} */
  const result = [];
  for (const chunk of rest.split(/[\n\r,;]+/)) {
    const bracketed = chunk.match(/\u0001([^\u0001]*)\u0001/);
    if (bracketed) {
      if (bracketed[1]) result.push(bracketed[1]);
      continue;
    }
    for (const word of chunk.split(/\s+/)) {
      const trimmed = word.trim();
      if (trimmed) result.push(trimmed);
    }
  }
  return result;
}

/**
 * The `UserFilter` for the users screen's controls: empty values are left out, so an
 * untouched filter is `{}` (everyone the caller may see).
 * @param {{ search?: string, teamId?: string, roleId?: string, departmentId?: string }} controls
 * @returns {{ search?: string, teamIds?: string[], roleIds?: string[], departmentIds?: string[] }}
 */
export function userFilter(controls) {
  /** @type {{ search?: string, teamIds?: string[], roleIds?: string[], departmentIds?: string[] }} */
  const filter = {};
  const search = (controls.search ?? "").trim();
  if (search) filter.search = search;
  if (controls.teamId) filter.teamIds = [controls.teamId];
  if (controls.roleId) filter.roleIds = [controls.roleId];
  if (controls.departmentId) filter.departmentIds = [controls.departmentId];
  return filter;
}

/**
 * The `InviteFilter` for the invited users screen: `status` "" means every status.
 * @param {{ search?: string, status?: string }} controls
 * @returns {{ search?: string, statuses?: string[] }}
 */
export function inviteFilter(controls) {
  /** @type {{ search?: string, statuses?: string[] }} */
  const filter = {};
  const search = (controls.search ?? "").trim();
  if (search) filter.search = search;
  if (controls.status) filter.statuses = [controls.status];
  return filter;
}

/**
 * The `AuditEventFilter` for the audit screen: blank fields are left out.
 * @param {{ operationId?: string, actorId?: string, targetId?: string }} controls
 * @returns {{ operationId?: string, actorId?: string, targetId?: string }}
 */
export function auditFilter(controls) {
  /** @type {{ operationId?: string, actorId?: string, targetId?: string }} */
  const filter = {};
  for (const key of /** @type {const} */ (["operationId", "actorId", "targetId"])) {
    const value = (controls[key] ?? "").trim();
    if (value) filter[key] = value;
  }
  return filter;
}

/**
 * The page arguments for a Relay connection: forward from `after`, backward from
 * `before`, or the first page.
 * @param {{ after?: string | null, before?: string | null }} cursor
 * @param {number} size
 * @returns {{ first?: number, after?: string, last?: number, before?: string }}
 */
export function pageArgs(cursor, size) {
  if (cursor.before) return { last: size, before: cursor.before };
  if (cursor.after) return { first: size, after: cursor.after };
  return { first: size };
}

/**
 * Whether the caller may grant a role: its scope no wider than the caller's and its
 * permissions a subset of the caller's (the API's no-escalation rule).
 * @param {{ scope: string, permissions: readonly string[] }} caller
 * @param {{ scope: string, permissions: readonly string[] }} role
 */
export function canGrant(caller, role) {
  return (
    scopeNotWider(role.scope, caller.scope) &&
    role.permissions.every((p) => caller.permissions.includes(p))
  );
}

/**
 * Whether scope `a` is not wider than scope `b`.
 * @param {string} a
 * @param {string} b
 */
export function scopeNotWider(a, b) {
  const ia = SCOPES.indexOf(/** @type {any} */ (a));
  const ib = SCOPES.indexOf(/** @type {any} */ (b));
  return ia >= 0 && ib >= 0 && ia <= ib;
}

/**
 * Takes `#token=…` out of a location hash: the token, and the hash to put back
 * (other parameters kept), or null when the hash holds no token.
 * @param {string} hash
 * @returns {{ token: string, rest: string } | null}
 */
export function takeTokenFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token");
  if (!token) return null;
  params.delete("token");
  const rest = params.toString();
  return { token, rest: rest ? `#${rest}` : "" };
}

/**
 * Accepts a pasted token with or without `Bearer `, or a whole
 * `Authorization: Bearer …` line, or GraphiQL's `{"Authorization":"Bearer …"}`.
 * @param {string} text
 * @returns {string}
 */
export function normalizeToken(text) {
  let t = text.trim();
  try {
    const parsed = JSON.parse(t);
    if (parsed && typeof parsed.Authorization === "string") t = parsed.Authorization;
  } catch {
    // Not JSON: a header line or the bare token.
  }
  return t.replace(/^authorization:\s*/i, "").replace(/^bearer\s+/i, "").trim();
}
