// Invited users: filter by status (and email), page, select many and resend, withdraw or
// delete them through the dry-run confirmation.
import { useState } from "preact/hooks";
import { graphql } from "../gql";
import type { InviteFilter, InvitesQuery } from "../gql/graphql";
import { request } from "./api";
import {
  BulkConfirm,
  ErrorNote,
  Pager,
  Status,
  useCan,
  useDebounced,
  useLoad,
  type BulkResult,
  type Cursor,
} from "./common";
import { inviteFilter, pageArgs } from "./logic.js";

const InvitesDocument = graphql(`
  query Invites($filter: InviteFilter, $first: Int, $after: String, $last: Int, $before: String) {
    invites(
      filter: $filter
      orderBy: { field: CREATED_AT, direction: DESC }
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      totalCount
      nodes {
        id email status expiresAt sendCount delivery
        team { id name } role { id name } invitedBy { id name }
      }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);

const ResendDocument = graphql(`
  mutation ResendInvites($inviteIds: [ID!]!, $dryRun: Boolean) {
    resendInvites(input: { inviteIds: $inviteIds, dryRun: $dryRun }) {
      invites { id status }
      changedCount errors { index id code message } dryRun operationId
    }
  }
`);

const WithdrawDocument = graphql(`
  mutation WithdrawInvites($inviteIds: [ID!]!, $dryRun: Boolean) {
    withdrawInvites(input: { inviteIds: $inviteIds, dryRun: $dryRun }) {
      invites { id status }
      changedCount errors { index id code message } dryRun operationId
    }
  }
`);

const DeleteInvitesDocument = graphql(`
  mutation DeleteInvites($inviteIds: [ID!]!, $dryRun: Boolean) {
    deleteInvites(input: { inviteIds: $inviteIds, dryRun: $dryRun }) {
      deletedIds
      changedCount errors { index id code message } dryRun operationId
    }
  }
`);

type Invite = InvitesQuery["invites"]["nodes"][number];
type Action = "resend" | "withdraw" | "delete";
const STATUSES = ["PENDING", "EXPIRED", "ACCEPTED", "WITHDRAWN"] as const;
const PAGE = 20;

export function InvitesScreen() {
  const can = useCan();
  const [status, setStatusFilter] = useState("");
  const [search, setSearch] = useState("");
  const [cursor, setCursor] = useState<Cursor>({});
  const [selected, setSelected] = useState<Map<string, Invite>>(new Map());
  const [action, setAction] = useState<Action | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const debounced = useDebounced(search, 250);
  const filter = inviteFilter({ search: debounced, status });
  const invites = useLoad(
    () =>
      request(InvitesDocument, {
        // logic.js only puts one of STATUSES into `statuses`.
        filter: filter as InviteFilter,
        ...pageArgs(cursor, PAGE),
      }),
    [JSON.stringify(filter), cursor.after, cursor.before],
  );
  const nodes = invites.data?.invites.nodes ?? [];
  const toggle = (invite: Invite, on: boolean) => {
    const next = new Map(selected);
    if (on) next.set(invite.id, invite);
    else next.delete(invite.id);
    setSelected(next);
  };
  const allOnPage = nodes.length > 0 && nodes.every((i) => selected.has(i.id));
  const toggleAll = (on: boolean) => {
    const next = new Map(selected);
    for (const i of nodes) on ? next.set(i.id, i) : next.delete(i.id);
    setSelected(next);
  };
  const items = [...selected.values()].map((i) => ({ id: i.id, label: `${i.email} (${i.status})` }));
  const inviteIds = items.map((i) => i.id);
  const run = async (dryRun: boolean): Promise<BulkResult> => {
    if (action === "resend") return (await request(ResendDocument, { inviteIds, dryRun })).resendInvites;
    if (action === "withdraw") return (await request(WithdrawDocument, { inviteIds, dryRun })).withdrawInvites;
    return (await request(DeleteInvitesDocument, { inviteIds, dryRun })).deleteInvites;
  };
  const closed = (result: BulkResult | null) => {
    setAction(null);
    if (result) {
      setMessage(`Done: ${result.changedCount} changed (operation ${result.operationId ?? "–"}).`);
      setSelected(new Map());
      invites.reload();
    }
  };
  const mayAct = can("USERS_INVITE");
  return (
    <section aria-labelledby="invites-title">
      <h2 id="invites-title">Invited users</h2>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="invite-search">Search email</label>
          <input
            id="invite-search"
            type="search"
            value={search}
            onInput={(e) => {
              setSearch(e.currentTarget.value);
              setCursor({});
            }}
          />
        </div>
        <div>
          <label for="invite-status">Status</label>
          <select
            id="invite-status"
            value={status}
            onChange={(e) => {
              setStatusFilter(e.currentTarget.value);
              setCursor({});
            }}
          >
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.charAt(0) + s.slice(1).toLowerCase()}
              </option>
            ))}
          </select>
        </div>
      </form>
      {mayAct && (
        <div class="bulk-bar" aria-label="Selected invitations">
          <span>{selected.size} selected</span>
          <button type="button" disabled={!selected.size} onClick={() => setAction("resend")}>
            Resend…
          </button>
          <button type="button" disabled={!selected.size} onClick={() => setAction("withdraw")}>
            Withdraw…
          </button>
          <button type="button" class="danger" disabled={!selected.size} onClick={() => setAction("delete")}>
            Delete…
          </button>
        </div>
      )}
      {action && (
        <BulkConfirm
          key={action}
          title={`${action.charAt(0).toUpperCase() + action.slice(1)} ${items.length} invitation(s)`}
          verb={action.charAt(0).toUpperCase() + action.slice(1)}
          items={items}
          run={run}
          onClose={closed}
        />
      )}
      <Status text={message} />
      <ErrorNote error={invites.error} />
      <table class="list" aria-busy={invites.loading}>
        <caption class="visually-hidden">Invitations, newest first</caption>
        <thead>
          <tr>
            {mayAct && (
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all invitations on this page"
                  checked={allOnPage}
                  onChange={(e) => toggleAll(e.currentTarget.checked)}
                />
              </th>
            )}
            <th scope="col">Email</th>
            <th scope="col">Status</th>
            <th scope="col">Team</th>
            <th scope="col">Role</th>
            <th scope="col">Invited by</th>
            <th scope="col">Expires</th>
            <th scope="col">Sent</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((i) => (
            <tr key={i.id} data-email={i.email}>
              {mayAct && (
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${i.email}`}
                    checked={selected.has(i.id)}
                    onChange={(e) => toggle(i, e.currentTarget.checked)}
                  />
                </td>
              )}
              <td>{i.email}</td>
              <td>{i.status}</td>
              <td>{i.team.name}</td>
              <td>{i.role.name}</td>
              <td>{i.invitedBy?.name ?? "–"}</td>
              <td>{new Date(i.expiresAt).toLocaleDateString()}</td>
              <td>
                {i.sendCount}× ({i.delivery.toLowerCase()})
              </td>
            </tr>
          ))}
          {!invites.loading && nodes.length === 0 && (
            <tr>
              <td colSpan={8}>No invitations match.</td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager
        label="Invitations"
        pageInfo={invites.data?.invites.pageInfo}
        totalCount={invites.data?.invites.totalCount}
        onPage={setCursor}
      />
    </section>
  );
}
