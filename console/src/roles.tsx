// Roles: every role with its scope and permissions, and (with ROLES_MANAGE) an editor for
// custom roles. Scopes wider than the caller's and permissions the caller does not hold
// are disabled: the API would refuse them (no escalation).
import { useState } from "preact/hooks";
import { graphql } from "../gql";
import type { Permission as PermissionType, RoleScope, RolesQuery } from "../gql/graphql";
import { ApiError, request } from "./api";
import { ErrorNote, Status, asApiError, useCan, useLoad, useViewer } from "./common";
import { PERMISSIONS, SCOPES, scopeNotWider } from "./logic.js";

const RolesDocument = graphql(`
  query Roles { roles { id key name builtIn scope permissions userCount } }
`);
const CreateRoleDocument = graphql(`
  mutation CreateRole($name: String!, $scope: RoleScope!, $permissions: [Permission!]!) {
    createRole(input: { name: $name, scope: $scope, permissions: $permissions }) { role { id name } }
  }
`);
const UpdateRoleDocument = graphql(`
  mutation UpdateRole($id: ID!, $name: String, $scope: RoleScope, $permissions: [Permission!]) {
    updateRole(input: { id: $id, name: $name, scope: $scope, permissions: $permissions }) { role { id name } }
  }
`);
const DeleteRoleDocument = graphql(`
  mutation DeleteRole($id: ID!) { deleteRole(input: { id: $id }) { deletedId } }
`);

type Role = RolesQuery["roles"][number];
type Draft = { id: string | null; name: string; scope: RoleScope; permissions: PermissionType[] };

export function RolesScreen() {
  const can = useCan();
  const manage = can("ROLES_MANAGE");
  const roles = useLoad(() => request(RolesDocument), []);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const act = async (what: string, call: () => Promise<unknown>) => {
    setError(null);
    try {
      await call();
      setStatus(what);
      setDraft(null);
      roles.reload();
    } catch (e) {
      setError(asApiError(e));
    }
  };
  const edit = (r: Role) => setDraft({ id: r.id, name: r.name, scope: r.scope, permissions: [...r.permissions] });
  return (
    <section aria-labelledby="roles-title">
      <h2 id="roles-title">Roles</h2>
      <Status text={status} />
      <ErrorNote error={error ?? roles.error} />
      {manage && !draft && (
        <button type="button" class="primary" onClick={() => setDraft({ id: null, name: "", scope: "SELF", permissions: [] })}>
          New custom role
        </button>
      )}
      {draft && (
        <RoleEditor
          draft={draft}
          onChange={setDraft}
          onCancel={() => setDraft(null)}
          onSave={(d) =>
            d.id
              ? act(`Saved role ${d.name}.`, () =>
                  request(UpdateRoleDocument, { id: d.id!, name: d.name, scope: d.scope, permissions: d.permissions }),
                )
              : act(`Created role ${d.name}.`, () =>
                  request(CreateRoleDocument, { name: d.name, scope: d.scope, permissions: d.permissions }),
                )
          }
        />
      )}
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Role</th>
            <th scope="col">Scope</th>
            <th scope="col">Permissions</th>
            <th scope="col">Users</th>
            {manage && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {(roles.data?.roles ?? []).map((r) => (
            <tr key={r.id}>
              <td>
                {r.name} {r.builtIn && <span class="badge">built-in</span>}
              </td>
              <td>{r.scope}</td>
              <td>{r.permissions.join(", ") || "none"}</td>
              <td>{r.userCount}</td>
              {manage && (
                <td>
                  {!r.builtIn && (
                    <>
                      <button type="button" aria-label={`Edit role ${r.name}`} onClick={() => edit(r)}>
                        Edit
                      </button>{" "}
                      <button
                        type="button"
                        class="danger"
                        aria-label={`Delete role ${r.name}`}
                        onClick={() =>
                          confirm(`Delete role ${r.name}?`) &&
                          act(`Deleted role ${r.name}.`, () => request(DeleteRoleDocument, { id: r.id }))
                        }
                      >
                        Delete
                      </button>
                    </>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function RoleEditor(props: {
  draft: Draft;
  onChange: (d: Draft) => void;
  onSave: (d: Draft) => void;
  onCancel: () => void;
}) {
  const viewer = useViewer();
  const d = props.draft;
  const mine = viewer.role;
  return (
    <form
      class="role-editor"
      aria-labelledby="role-editor-title"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSave({ ...d, name: d.name.trim() });
      }}
    >
      <h3 id="role-editor-title">{d.id ? `Edit ${d.name}` : "New custom role"}</h3>
      <label for="role-name">Name</label>
      <input
        id="role-name"
        required
        maxLength={100}
        value={d.name}
        onInput={(e) => props.onChange({ ...d, name: e.currentTarget.value })}
      />
      <fieldset>
        <legend>Scope (whom a holder acts on)</legend>
        {SCOPES.map((s) => {
          const allowed = scopeNotWider(s, mine.scope);
          return (
            <label key={s} class="choice">
              <input
                type="radio"
                name="role-scope"
                value={s}
                checked={d.scope === s}
                disabled={!allowed}
                onChange={() => props.onChange({ ...d, scope: s })}
              />{" "}
              {s}
              {allowed ? "" : " (wider than yours)"}
            </label>
          );
        })}
      </fieldset>
      <fieldset>
        <legend>Permissions</legend>
        {PERMISSIONS.map((p) => {
          const allowed = mine.permissions.includes(p);
          return (
            <label key={p} class="choice">
              <input
                type="checkbox"
                checked={d.permissions.includes(p)}
                disabled={!allowed}
                onChange={(e) =>
                  props.onChange({
                    ...d,
                    permissions: e.currentTarget.checked
                      ? [...d.permissions, p]
                      : d.permissions.filter((x) => x !== p),
                  })
                }
              />{" "}
              {p}
              {allowed ? "" : " (you do not have it)"}
            </label>
          );
        })}
      </fieldset>
      <div class="actions">
        <button type="submit" class="primary" disabled={!d.name.trim()}>
          {d.id ? "Save role" : "Create role"}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
