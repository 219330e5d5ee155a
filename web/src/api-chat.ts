// The chat's API calls: cancel a queued turn, delete a session, search. Their shapes are the generated types.
import { request } from "./api";
import type { components } from "./generated/api";

const q = encodeURIComponent;

/** One thing GET /api/search found (docs/protocol.md, "Search"). */
export type SearchHit = components["schemas"]["SearchHit"];
type SearchResults = components["schemas"]["SearchResults"];
type Cancelled = components["schemas"]["Cancelled"];

export const chatApi = {
  /** Sessions by name, artifacts by path, messages by text; `complete: false` when the store stopped early. */
  search: (query: string, limit = 30) => request<SearchResults>("GET", `/api/search?q=${q(query)}&limit=${limit}`),
  /** Cancel a queued turn before it runs (`cancelled: false`: it already runs or ended). */
  cancelTurn: (sessionId: string, turnId: string) => request<Cancelled>("DELETE", `/api/sessions/${q(sessionId)}/turns/${q(turnId)}`),
  /** Delete a session, its messages, artifacts records and Claude's transcript (409 while a turn runs). */
  deleteSession: (sessionId: string) => request<void>("DELETE", `/api/sessions/${q(sessionId)}`),
};
