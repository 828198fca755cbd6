// Invite users: a team, a role and several addresses pasted at once. The invitation is
// all-or-nothing: when any address is refused, nothing is sent and each refusal
// (BulkItemError index, code, message) is shown next to its address.
import { useState } from "preact/hooks";
import { graphql } from "../gql";
import type { InviteUsersMutation } from "../gql/graphql";
import { request } from "./api";
import { ErrorNote, Status, asApiError, useGrantable } from "./common";
import { ApiError } from "./api";
import { parseEmails } from "./logic.js";
import { useChoices } from "./choices";

const InviteUsersDocument = graphql(`
  mutation InviteUsers($invitations: [InvitationInput!]!, $dryRun: Boolean) {
    inviteUsers(input: { invitations: $invitations, dryRun: $dryRun }) {
      invites { id email status }
      changedCount
      errors { index email code message }
      dryRun
      operationId
    }
  }
`);

type Payload = InviteUsersMutation["inviteUsers"];

export function InviteScreen() {
  const choices = useChoices();
  const grantable = useGrantable();
  const [teamId, setTeamId] = useState("");
  const [roleId, setRoleId] = useState("");
  const [text, setText] = useState("");
  const [result, setResult] = useState<{ emails: string[]; payload: Payload } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const emails = parseEmails(text);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const sent = emails;
      const data = await request(InviteUsersDocument, {
        invitations: sent.map((email) => ({ email, teamId, roleId })),
        dryRun: false,
      });
      setResult({ emails: sent, payload: data.inviteUsers });
      if (data.inviteUsers.errors.length === 0) setText("");
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  const refused = result && result.payload.errors.length > 0;
  return (
    <section aria-labelledby="invite-title">
      <h2 id="invite-title">Invite users</h2>
      <form class="invite-form" onSubmit={submit}>
        <div>
          <label for="invite-team">Team</label>
          <select id="invite-team" required value={teamId} onChange={(e) => setTeamId(e.currentTarget.value)}>
            <option value="">Choose a team…</option>
            {choices.teams.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="invite-role">Role</label>
          <select id="invite-role" required value={roleId} onChange={(e) => setRoleId(e.currentTarget.value)}>
            <option value="">Choose a role…</option>
            {choices.roles.map((r) => (
              <option key={r.id} value={r.id} disabled={!grantable(r)}>
                {r.name}
                {grantable(r) ? "" : " (you cannot grant it)"}
              </option>
            ))}
          </select>
        </div>
        <div class="wide">
          <label for="invite-emails">Email addresses (one per line, or separated by commas)</label>
          <textarea
            id="invite-emails"
            rows={5}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            aria-describedby="invite-count"
          />
          <p id="invite-count" class="muted">
            {emails.length} address(es)
          </p>
        </div>
        <button type="submit" class="primary" disabled={busy || !teamId || !roleId || emails.length === 0}>
          Invite
        </button>
      </form>
      <ErrorNote error={error} />
      {result && (
        <>
          <Status
            text={
              refused
                ? `Nothing was sent: ${result.payload.errors.length} address(es) refused.`
                : `Invited ${result.payload.changedCount} (operation ${result.payload.operationId ?? "–"}).`
            }
          />
          <table class="list invite-result">
            <caption class="visually-hidden">Result per address</caption>
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {result.emails.map((email, index) => {
                const errs = result.payload.errors.filter((x) => x.index === index);
                return (
                  <tr key={index} data-email={email}>
                    <td>{email}</td>
                    <td class={errs.length ? "error" : "ok"}>
                      {errs.length
                        ? errs.map((x) => `${x.code}: ${x.message}`).join("; ")
                        : refused
                          ? "OK (not sent: another address was refused)"
                          : "Invited"}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
