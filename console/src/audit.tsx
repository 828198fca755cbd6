// Audit log: newest first, filtered by operation, actor and target ids (an operation id is
// what every bulk change reports). The API pages audit events forward only, so "Previous"
// goes back through the cursors already visited.
import { useState } from "preact/hooks";
import { graphql } from "../gql";
import { request } from "./api";
import { ErrorNote, useLoad } from "./common";
import { auditFilter } from "./logic.js";

const AuditDocument = graphql(`
  query Audit($filter: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
      totalCount
      nodes {
        id operationId action actor { id name } targetType targetId targetLabel before after createdAt
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const PAGE = 20;

export function AuditScreen() {
  const [controls, setControls] = useState({ operationId: "", actorId: "", targetId: "" });
  const [applied, setApplied] = useState(controls);
  // Cursors of the pages visited; the last is the current page's `after`.
  const [trail, setTrail] = useState<(string | null)[]>([null]);
  const after = trail[trail.length - 1];
  const filter = auditFilter(applied);
  const events = useLoad(
    () => request(AuditDocument, { filter, first: PAGE, after }),
    [JSON.stringify(filter), after],
  );
  const field = (key: keyof typeof controls, label: string) => (
    <div>
      <label for={`audit-${key}`}>{label}</label>
      <input
        id={`audit-${key}`}
        value={controls[key]}
        onInput={(e) => setControls({ ...controls, [key]: e.currentTarget.value })}
      />
    </div>
  );
  const info = events.data?.auditEvents.pageInfo;
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(controls);
          setTrail([null]);
        }}
      >
        {field("operationId", "Operation id")}
        {field("actorId", "Actor (user id)")}
        {field("targetId", "Target id")}
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={events.error} />
      <table class="list audit" aria-busy={events.loading}>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Actor</th>
            <th scope="col">Target</th>
            <th scope="col">Change</th>
            <th scope="col">Operation</th>
          </tr>
        </thead>
        <tbody>
          {(events.data?.auditEvents.nodes ?? []).map((ev) => (
            <tr key={ev.id}>
              <td>{new Date(ev.createdAt).toLocaleString()}</td>
              <td>{ev.action}</td>
              <td>
                {ev.actor ? (
                  <button type="button" class="link" onClick={() => pick(setControls, setApplied, setTrail, { actorId: ev.actor!.id })}>
                    {ev.actor.name}
                  </button>
                ) : (
                  "–"
                )}
              </td>
              <td>
                <button type="button" class="link" onClick={() => pick(setControls, setApplied, setTrail, { targetId: ev.targetId })}>
                  {ev.targetType} {ev.targetLabel ?? ev.targetId}
                </button>
              </td>
              <td>
                <code>{JSON.stringify(ev.before)}</code> → <code>{JSON.stringify(ev.after)}</code>
              </td>
              <td>
                <button type="button" class="link" onClick={() => pick(setControls, setApplied, setTrail, { operationId: ev.operationId })}>
                  {ev.operationId.slice(0, 12)}…
                </button>
              </td>
            </tr>
          ))}
          {!events.loading && events.data?.auditEvents.nodes.length === 0 && (
            <tr>
              <td colSpan={6}>No events match.</td>
            </tr>
          )}
        </tbody>
      </table>
      <nav class="pager" aria-label="Audit pages">
        <button type="button" disabled={trail.length < 2} onClick={() => setTrail(trail.slice(0, -1))}>
          ← Previous
        </button>
        <button
          type="button"
          disabled={!info?.hasNextPage}
          onClick={() => info?.endCursor && setTrail([...trail, info.endCursor])}
        >
          Next →
        </button>
        {events.data && <span class="muted">{events.data.auditEvents.totalCount} in all</span>}
      </nav>
    </section>
  );
}

/** Filters by one id taken from a row (click an actor, target or operation). */
function pick(
  setControls: (c: { operationId: string; actorId: string; targetId: string }) => void,
  setApplied: (c: { operationId: string; actorId: string; targetId: string }) => void,
  setTrail: (t: (string | null)[]) => void,
  only: Partial<{ operationId: string; actorId: string; targetId: string }>,
) {
  const next = { operationId: "", actorId: "", targetId: "", ...only };
  setControls(next);
  setApplied(next);
  setTrail([null]);
}
