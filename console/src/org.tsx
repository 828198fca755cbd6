// Teams and departments: lists for everyone who may see them; create, rename and delete
// only with TEAMS_MANAGE (the API refuses deleting a team with members or pending
// invitations, and a department with teams; the refusal is shown as it comes).
import { useState } from "preact/hooks";
import { graphql } from "../gql";
import { ApiError, request } from "./api";
import { ErrorNote, Status, asApiError, useCan, useLoad } from "./common";

const OrgDocument = graphql(`
  query Org {
    teams(first: 100) { totalCount nodes { id name memberCount department { id name } } }
    departments(first: 100) { totalCount nodes { id name teams { id } } }
  }
`);

const CreateTeamDocument = graphql(`
  mutation CreateTeam($name: String!, $departmentId: ID) {
    createTeam(input: { name: $name, departmentId: $departmentId }) { team { id name } }
  }
`);
const UpdateTeamDocument = graphql(`
  mutation UpdateTeam($id: ID!, $name: String, $departmentId: ID) {
    updateTeam(input: { id: $id, name: $name, departmentId: $departmentId }) { team { id name } }
  }
`);
const DeleteTeamDocument = graphql(`
  mutation DeleteTeam($id: ID!) { deleteTeam(input: { id: $id }) { deletedId } }
`);
const CreateDepartmentDocument = graphql(`
  mutation CreateDepartment($name: String!) {
    createDepartment(input: { name: $name }) { department { id name } }
  }
`);
const UpdateDepartmentDocument = graphql(`
  mutation UpdateDepartment($id: ID!, $name: String) {
    updateDepartment(input: { id: $id, name: $name }) { department { id name } }
  }
`);
const DeleteDepartmentDocument = graphql(`
  mutation DeleteDepartment($id: ID!) { deleteDepartment(input: { id: $id }) { deletedId } }
`);

export function OrgScreen() {
  const can = useCan();
  const manage = can("TEAMS_MANAGE");
  const org = useLoad(() => request(OrgDocument), []);
  const [error, setError] = useState<ApiError | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const act = async (what: string, call: () => Promise<unknown>) => {
    setError(null);
    try {
      await call();
      setStatus(what);
      org.reload();
    } catch (e) {
      setError(asApiError(e));
    }
  };
  const departments = org.data?.departments.nodes ?? [];
  const teams = org.data?.teams.nodes ?? [];
  return (
    <section aria-labelledby="org-title">
      <h2 id="org-title">Teams &amp; departments</h2>
      <Status text={status} />
      <ErrorNote error={error ?? org.error} />
      <h3>Teams</h3>
      {manage && (
        <NameForm
          idBase="new-team"
          label="New team name"
          button="Create team"
          extra={(value, set) => (
            <>
              <label for="new-team-department">Department</label>
              <select id="new-team-department" value={value} onChange={(e) => set(e.currentTarget.value)}>
                <option value="">None</option>
                {departments.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </>
          )}
          onSubmit={(name, departmentId) =>
            act(`Created team ${name}.`, () =>
              request(CreateTeamDocument, { name, departmentId: departmentId || null }),
            )
          }
        />
      )}
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Team</th>
            <th scope="col">Department</th>
            <th scope="col">Members</th>
            {manage && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {teams.map((t) => (
            <tr key={t.id}>
              <td>
                {manage ? (
                  <Rename
                    label={`Name of team ${t.name}`}
                    name={t.name}
                    onRename={(name) => act(`Renamed to ${name}.`, () => request(UpdateTeamDocument, { id: t.id, name }))}
                  />
                ) : (
                  t.name
                )}
              </td>
              <td>{t.department?.name ?? "–"}</td>
              <td>{t.memberCount}</td>
              {manage && (
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Delete team ${t.name}`}
                    onClick={() =>
                      confirm(`Delete team ${t.name}?`) &&
                      act(`Deleted team ${t.name}.`, () => request(DeleteTeamDocument, { id: t.id }))
                    }
                  >
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Departments</h3>
      {manage && (
        <NameForm
          idBase="new-department"
          label="New department name"
          button="Create department"
          onSubmit={(name) => act(`Created department ${name}.`, () => request(CreateDepartmentDocument, { name }))}
        />
      )}
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Department</th>
            <th scope="col">Teams</th>
            {manage && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {departments.map((d) => (
            <tr key={d.id}>
              <td>
                {manage ? (
                  <Rename
                    label={`Name of department ${d.name}`}
                    name={d.name}
                    onRename={(name) =>
                      act(`Renamed to ${name}.`, () => request(UpdateDepartmentDocument, { id: d.id, name }))
                    }
                  />
                ) : (
                  d.name
                )}
              </td>
              <td>{d.teams.length}</td>
              {manage && (
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Delete department ${d.name}`}
                    onClick={() =>
                      confirm(`Delete department ${d.name}?`) &&
                      act(`Deleted department ${d.name}.`, () => request(DeleteDepartmentDocument, { id: d.id }))
                    }
                  >
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function NameForm(props: {
  idBase: string;
  label: string;
  button: string;
  extra?: (value: string, set: (v: string) => void) => preact.ComponentChildren;
  onSubmit: (name: string, extra: string) => void;
}) {
  const [name, setName] = useState("");
  const [extra, setExtra] = useState("");
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim()) props.onSubmit(name.trim(), extra);
        setName("");
      }}
    >
      <label for={props.idBase}>{props.label}</label>
      <input id={props.idBase} value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
      {props.extra?.(extra, setExtra)}
      <button type="submit" disabled={!name.trim()}>
        {props.button}
      </button>
    </form>
  );
}

/** A name that turns into a small form on "Rename". */
function Rename(props: { label: string; name: string; onRename: (name: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(props.name);
  if (!editing) {
    return (
      <span>
        {props.name}{" "}
        <button type="button" class="link" aria-label={`Rename ${props.name}`} onClick={() => setEditing(true)}>
          Rename
        </button>
      </span>
    );
  }
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        setEditing(false);
        if (value.trim() && value.trim() !== props.name) props.onRename(value.trim());
      }}
    >
      <input aria-label={props.label} value={value} maxLength={100} onInput={(e) => setValue(e.currentTarget.value)} />
      <button type="submit">Save</button>
      <button type="button" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}
