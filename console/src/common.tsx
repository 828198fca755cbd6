// Pieces every screen shares: loading data, paging, the caller, and the confirmation
// step of bulk changes (dry run first, per-item result, then commit).
import { createContext } from "preact";
import type { ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import type { ViewerQuery } from "../gql/graphql";
import { ApiError } from "./api";
import { canGrant } from "./logic.js";

export type Viewer = ViewerQuery["viewer"];
export type Permission = Viewer["role"]["permissions"][number];

export const ViewerContext = createContext<Viewer | null>(null);

/** The signed-in user; screens only render inside a signed-in console. */
export function useViewer(): Viewer {
  const viewer = useContext(ViewerContext);
  if (!viewer) throw new Error("useViewer outside the signed-in console");
  return viewer;
}

export function useCan(): (permission: Permission) => boolean {
  const viewer = useViewer();
  return (permission) => viewer.role.permissions.includes(permission);
}

/** Whether the caller may grant this role (the API refuses the others anyway). */
export function useGrantable(): (role: { scope: string; permissions: readonly string[] }) => boolean {
  const viewer = useViewer();
  return (role) => canGrant(viewer.role, role);
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` whenever `deps` change; a slower earlier answer never overwrites a later one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const id = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => id === latest.current && setState({ data, error: null, loading: false }),
      (e: unknown) =>
        id === latest.current &&
        setState({ data: null, error: asApiError(e), loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(String(e), "ERROR");
}

/** `value`, but only after it stopped changing for `ms` (search as you type). */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function ErrorNote({ error }: { error: ApiError | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message} <span class="muted">({error.code})</span>
    </p>
  );
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor?: string | null;
  endCursor?: string | null;
}

export type Cursor = { after?: string | null; before?: string | null };

/** Previous / next buttons for a Relay connection. */
export function Pager(props: {
  label: string;
  pageInfo: PageInfo | undefined;
  totalCount: number | undefined;
  onPage: (cursor: Cursor) => void;
  noBackward?: boolean;
}) {
  const info = props.pageInfo;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button
        type="button"
        disabled={!info?.hasPreviousPage}
        onClick={() => info?.startCursor && props.onPage({ before: info.startCursor })}
      >
        ← Previous
      </button>
      <button
        type="button"
        disabled={!info?.hasNextPage}
        onClick={() => info?.endCursor && props.onPage({ after: info.endCursor })}
      >
        Next →
      </button>
      {props.totalCount !== undefined && (
        <span class="muted" aria-live="polite">
          {props.totalCount} in all
        </span>
      )}
    </nav>
  );
}

/** What a bulk mutation answers (the fields every bulk payload shares). */
export interface BulkResult {
  changedCount: number;
  dryRun: boolean;
  operationId?: string | null;
  errors: { index: number; code: string; message: string }[];
}

/**
 * The confirmation step of a bulk change: runs it with `dryRun: true`, shows what would
 * happen to every item (or why each refused item is refused), and commits only when
 * asked and nothing is refused.
 */
export function BulkConfirm(props: {
  title: string;
  verb: string;
  items: { id: string; label: string }[];
  run: (dryRun: boolean) => Promise<BulkResult>;
  onClose: (committed: BulkResult | null) => void;
  children?: ComponentChildren;
}) {
  const [preview, setPreview] = useState<BulkResult | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(true);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    // Focus moves into the confirmation, and back to what opened it when it closes.
    const opener = document.activeElement as HTMLElement | null;
    heading.current?.focus();
    return () => opener?.focus();
  }, []);
  useEffect(() => {
    props.run(true).then(
      (r) => {
        setPreview(r);
        setBusy(false);
      },
      (e) => {
        setError(asApiError(e));
        setBusy(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const commit = async () => {
    setBusy(true);
    try {
      const result = await props.run(false);
      if (result.errors.length > 0) {
        setPreview(result);
        setBusy(false);
      } else {
        props.onClose(result);
      }
    } catch (e) {
      setError(asApiError(e));
      setBusy(false);
    }
  };
  const refused = preview?.errors.length ?? 0;
  return (
    <section
      class="confirm"
      role="dialog"
      aria-modal="false"
      aria-labelledby="confirm-title"
      onKeyDown={(e) => e.key === "Escape" && props.onClose(null)}
    >
      <h3 id="confirm-title" tabIndex={-1} ref={heading}>
        {props.title}
      </h3>
      {props.children}
      {busy && !preview && <p>Checking (dry run)…</p>}
      <ErrorNote error={error} />
      {preview && (
        <>
          <p id="dry-run-summary" aria-live="polite">
            {refused > 0
              ? `${refused} of ${props.items.length} refused: nothing will be changed.`
              : `Dry run: ${preview.changedCount} of ${props.items.length} would change` +
                (preview.changedCount < props.items.length ? " (the others are already so)." : ".")}
          </p>
          <table class="dry-run">
            <caption class="visually-hidden">Result per item</caption>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {props.items.map((item, index) => {
                const itemErrors = preview.errors.filter((e) => e.index === index);
                return (
                  <tr key={item.id} data-item={item.label}>
                    <td>{item.label}</td>
                    <td class={itemErrors.length ? "error" : "ok"}>
                      {itemErrors.length
                        ? itemErrors.map((e) => `${e.code}: ${e.message}`).join("; ")
                        : "OK"}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy || !preview || refused > 0}
          onClick={commit}
        >
          {props.verb}
        </button>
        <button type="button" onClick={() => props.onClose(null)}>
          Cancel
        </button>
      </div>
    </section>
  );
}

/** A short-lived status line that screen readers announce. */
export function Status({ text }: { text: string | null }) {
  return (
    <p class="status" role="status" aria-live="polite">
      {text ?? ""}
    </p>
  );
}
