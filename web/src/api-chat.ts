// The chat's API calls that api.ts does not have yet (cancel a queued turn, delete a session, search).
// Kept apart so the typed API (api.ts, web/src/generated/) can fold them in without a conflict.
import { request } from "./api";

const q = encodeURIComponent;

/** One thing GET /api/search found (docs/protocol.md, "Search"). */
export interface SearchHit {
  kind: "session" | "artifact" | "message";
  session_id: string;
  session_name: string;
  at: number;
  message_id: string | null;
  role: "user" | "assistant" | "system" | null;
  path: string | null;
  snippet: string;
}

export const chatApi = {
  /** Sessions by name, artifacts by path, messages by text; `complete: false` when the store stopped early. */
  search: (query: string, limit = 30) => request<{ hits: SearchHit[]; complete: boolean }>("GET", `/api/search?q=${q(query)}&limit=${limit}`),
  /** Cancel a queued turn before it runs (`cancelled: false`: it already runs or ended). */
  cancelTurn: (sessionId: string, turnId: string) => request<{ cancelled: boolean }>("DELETE", `/api/sessions/${q(sessionId)}/turns/${q(turnId)}`),
  /** Delete a session, its messages, artifacts records and Claude's transcript (409 while a turn runs). */
  deleteSession: (sessionId: string) => request<void>("DELETE", `/api/sessions/${q(sessionId)}`),
};
