// The one place the console talks to Roster: POST /graphql with the signed-in token.
// Documents are `graphql()` tagged strings from gql/ (generated from ../schema.graphql by
// `npm run codegen`), so results and variables are typed and a schema change that breaks
// an operation fails `tsc` and with it the build.
import type { TypedDocumentString } from "../gql/graphql";

/** A top-level GraphQL error (or a transport failure), with the API's `extensions.code`. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "roster-console-token";

/** The signed-in bearer token: kept in sessionStorage, so it dies with the tab. */
export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Runs one operation; resolves with its data, or rejects with an [`ApiError`]. */
export async function request<R, V>(
  document: TypedDocumentString<R, V>,
  ...[variables]: V extends Record<string, never> ? [] | [V] : [V]
): Promise<R> {
  const token = storedToken();
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
    });
  } catch {
    throw new ApiError("Roster could not be reached; check your connection.", "NETWORK");
  }
  let body: { data?: R | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`Unexpected answer from Roster (HTTP ${response.status}).`, "NETWORK");
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? "ERROR");
  if (body.data == null) throw new ApiError("Roster answered without data.", "ERROR");
  return body.data;
}
