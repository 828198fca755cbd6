// Users: search as you type, filter by team, role and department, page with Relay
// cursors, select many and change their role or team or delete them, each through the
// dry-run confirmation.
import { useState } from "preact/hooks";
import { graphql } from "../gql";
import type { UsersQuery } from "../gql/graphql";
import { request } from "./api";
import {
  BulkConfirm,
  ErrorNote,
  Pager,
  Status,
  useCan,
  useDebounced,
  useGrantable,
  useLoad,
  type BulkResult,
  type Cursor,
} from "./common";
import { pageArgs, userFilter } from "./logic.js";
import { useChoices } from "./choices";

const UsersDocument = graphql(`
  query Users($filter: UserFilter, $first: Int, $after: String, $last: Int, $before: String) {
    users(
      filter: $filter
      orderBy: { field: NAME, direction: ASC }
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      totalCount
      nodes { id name email role { id name } team { id name } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);

const ChangeRoleDocument = graphql(`
  mutation ChangeUsersRole($userIds: [ID!]!, $roleId: ID!, $dryRun: Boolean) {
    changeUsersRole(input: { userIds: $userIds, roleId: $roleId, dryRun: $dryRun }) {
      users { id role { name } }
      changedCount
      errors { index id code message }
      dryRun
      operationId
    }
  }
`);

const ChangeTeamDocument = graphql(`
  mutation ChangeUsersTeam($userIds: [ID!]!, $teamId: ID!, $dryRun: Boolean) {
    changeUsersTeam(input: { userIds: $userIds, teamId: $teamId, dryRun: $dryRun }) {
      users { id team { name } }
      changedCount
      errors { index id code message }
      dryRun
      operationId
    }
  }
`);

const DeleteUsersDocument = graphql(`
  mutation DeleteUsers($userIds: [ID!]!, $dryRun: Boolean) {
    deleteUsers(input: { userIds: $userIds, dryRun: $dryRun }) {
      deletedIds
      changedCount
      errors { index id code message }
      dryRun
      operationId
    }
  }
`);

type User = UsersQuery["users"]["nodes"][number];
type Action = "role" | "team" | "delete";
const PAGE = 20;

export function UsersScreen() {
  const can = useCan();
  const grantable = useGrantable();
  const choices = useChoices();
  const [search, setSearch] = useState("");
  const [teamId, setTeamId] = useState("");
  const [roleId, setRoleId] = useState("");
  const [departmentId, setDepartmentId] = useState("");
  const [cursor, setCursor] = useState<Cursor>({});
  const [selected, setSelected] = useState<Map<string, User>>(new Map());
  const [action, setAction] = useState<Action | null>(null);
  const [targetRole, setTargetRole] = useState("");
  const [targetTeam, setTargetTeam] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const debounced = useDebounced(search, 250);
  const filter = userFilter({ search: debounced, teamId, roleId, departmentId });
  const users = useLoad(
    () => request(UsersDocument, { filter, ...pageArgs(cursor, PAGE) }),
    [JSON.stringify(filter), cursor.after, cursor.before],
  );
  // A new filter starts at the first page.
  const refilter = (set: (v: string) => void) => (e: Event) => {
    set((e.currentTarget as HTMLInputElement | HTMLSelectElement).value);
    setCursor({});
  };
  const nodes = users.data?.users.nodes ?? [];
  const toggle = (user: User, on: boolean) => {
    const next = new Map(selected);
    if (on) next.set(user.id, user);
    else next.delete(user.id);
    setSelected(next);
  };
  const allOnPage = nodes.length > 0 && nodes.every((u) => selected.has(u.id));
  const toggleAll = (on: boolean) => {
    const next = new Map(selected);
    for (const u of nodes) on ? next.set(u.id, u) : next.delete(u.id);
    setSelected(next);
  };
  const items = [...selected.values()].map((u) => ({ id: u.id, label: `${u.name} <${u.email}>` }));
  const userIds = items.map((i) => i.id);
  const run = async (dryRun: boolean): Promise<BulkResult> => {
    if (action === "role") {
      return (await request(ChangeRoleDocument, { userIds, roleId: targetRole, dryRun })).changeUsersRole;
    }
    if (action === "team") {
      return (await request(ChangeTeamDocument, { userIds, teamId: targetTeam, dryRun })).changeUsersTeam;
    }
    return (await request(DeleteUsersDocument, { userIds, dryRun })).deleteUsers;
  };
  const closed = (result: BulkResult | null) => {
    setAction(null);
    if (result) {
      setStatus(`Done: ${result.changedCount} changed (operation ${result.operationId ?? "–"}).`);
      setSelected(new Map());
      users.reload();
    }
  };
  const roleName = choices.roles.find((r) => r.id === targetRole)?.name ?? "";
  const teamName = choices.teams.find((t) => t.id === targetTeam)?.name ?? "";

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="user-search">Search name or email</label>
          <input id="user-search" type="search" value={search} onInput={refilter(setSearch)} />
        </div>
        <div>
          <label for="user-team">Team</label>
          <select id="user-team" value={teamId} onChange={refilter(setTeamId)}>
            <option value="">All teams</option>
            {choices.teams.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="user-role">Role</label>
          <select id="user-role" value={roleId} onChange={refilter(setRoleId)}>
            <option value="">All roles</option>
            {choices.roles.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="user-department">Department</label>
          <select id="user-department" value={departmentId} onChange={refilter(setDepartmentId)}>
            <option value="">All departments</option>
            {choices.departments.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </div>
      </form>

      <div class="bulk-bar" aria-label="Selected users">
        <span id="selected-count">{selected.size} selected</span>
        {can("USERS_CHANGE_ROLE") && (
          <span class="bulk-action">
            <label for="bulk-role">New role</label>
            <select id="bulk-role" value={targetRole} onChange={(e) => setTargetRole(e.currentTarget.value)}>
              <option value="">Choose…</option>
              {choices.roles.map((r) => (
                <option key={r.id} value={r.id} disabled={!grantable(r)}>
                  {r.name}
                  {grantable(r) ? "" : " (you cannot grant it)"}
                </option>
              ))}
            </select>
            <button
              type="button"
              disabled={selected.size === 0 || !targetRole}
              onClick={() => setAction("role")}
            >
              Change role…
            </button>
          </span>
        )}
        {can("USERS_REASSIGN") && (
          <span class="bulk-action">
            <label for="bulk-team">New team</label>
            <select id="bulk-team" value={targetTeam} onChange={(e) => setTargetTeam(e.currentTarget.value)}>
              <option value="">Choose…</option>
              {choices.teams.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
            <button
              type="button"
              disabled={selected.size === 0 || !targetTeam}
              onClick={() => setAction("team")}
            >
              Change team…
            </button>
          </span>
        )}
        {can("USERS_DELETE") && (
          <button
            type="button"
            class="danger"
            disabled={selected.size === 0}
            onClick={() => setAction("delete")}
          >
            Delete…
          </button>
        )}
        {selected.size > 0 && (
          <button type="button" onClick={() => setSelected(new Map())}>
            Clear selection
          </button>
        )}
      </div>

      {action && (
        <BulkConfirm
          key={action}
          title={
            action === "role"
              ? `Change the role of ${items.length} user(s) to ${roleName}`
              : action === "team"
                ? `Move ${items.length} user(s) to ${teamName}`
                : `Delete ${items.length} user(s)`
          }
          verb={action === "delete" ? "Delete" : "Commit change"}
          items={items}
          run={run}
          onClose={closed}
        />
      )}
      <Status text={status} />
      <ErrorNote error={users.error} />

      <table class="list" aria-busy={users.loading}>
        <caption class="visually-hidden">Users, by name</caption>
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="Select all users on this page"
                checked={allOnPage}
                onChange={(e) => toggleAll(e.currentTarget.checked)}
              />
            </th>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Team</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((u) => (
            <tr key={u.id} data-email={u.email}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select ${u.name}`}
                  checked={selected.has(u.id)}
                  onChange={(e) => toggle(u, e.currentTarget.checked)}
                />
              </td>
              <td>{u.name}</td>
              <td>{u.email}</td>
              <td>{u.role.name}</td>
              <td>{u.team.name}</td>
            </tr>
          ))}
          {!users.loading && nodes.length === 0 && (
            <tr>
              <td colSpan={5}>No users match.</td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager
        label="Users"
        pageInfo={users.data?.users.pageInfo}
        totalCount={users.data?.users.totalCount}
        onPage={setCursor}
      />
    </section>
  );
}
