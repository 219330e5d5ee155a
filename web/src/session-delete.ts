// Deleting a session with a few seconds to undo: the session leaves the list at once, an "Undo" bar
// shows, and only when the time is up (or the page is left) is it really deleted on the server — its
// messages, artifact records and Claude's transcript (DELETE /api/sessions/{id}; a running turn is
// stopped first). While it waits it stays out of the list, whatever refreshes it. Only Undo opens it
// again; a delete that fails puts it back in the list and says why, without leaving the page one is on.
// The bar sits in the notice stack just above the message box (web/src/notices.ts), under the toasts.
import { chatApi } from "./api-chat";
import { ApiError } from "./api";
import { h } from "./dom";
import { saveDraft } from "./drafts";
import { showBar } from "./notices";

export const UNDO_MS = 6000;

export interface DeleteHost {
  /** Take the session out of the list and leave it if it is open. */
  hide(id: string): void;
  /** Bring it back to the list; `reopen` (Undo) opens it again too. */
  restore(id: string, reopen: boolean): void;
  toast(text: string, kind?: "info" | "error"): void;
}

const pending = new Map<string, { timer: number; unfollow: () => void }>();
const committing = new Set<string>(); // asked to the server, not answered yet

/** Whether `id` waits to be deleted (or is being deleted): the sessions list leaves it out. */
export function isDeleting(id: string): boolean {
  return pending.has(id) || committing.has(id);
}

async function commit(id: string, host: DeleteHost): Promise<void> {
  const entry = pending.get(id);
  if (!entry) return;
  pending.delete(id);
  committing.add(id);
  window.clearTimeout(entry.timer);
  entry.unfollow();
  try {
    await chatApi.deleteSession(id); // a running turn is stopped first: this can take a few seconds
    saveDraft(id, ""); // its unsent draft goes with it
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return void saveDraft(id, ""); // already gone
    committing.delete(id);
    host.restore(id, false);
    host.toast(`Couldn't delete it (${(error as Error).message}); it is back in your sessions.`, "error");
  } finally {
    committing.delete(id);
  }
}

/** Delete `id` after UNDO_MS unless Undo is pressed. */
export function deleteWithUndo(id: string, name: string, host: DeleteHost): void {
  host.hide(id);
  const undo = h("button", { type: "button", class: "button button--small undo-bar__undo" }, "Undo");
  const bar = h("div", { class: "undo-bar", role: "status", "data-testid": "undo-delete" }, h("span", { dir: "auto" }, `Deleted “${name || "New session"}”.`), undo);
  const unfollow = showBar(bar);
  const timer = window.setTimeout(() => void commit(id, host), UNDO_MS);
  pending.set(id, { timer, unfollow });
  undo.addEventListener("click", () => {
    window.clearTimeout(timer);
    pending.delete(id);
    unfollow();
    host.restore(id, true);
  });
  undo.focus();
}

/** Leaving the page deletes what is waiting, so a session deleted is never left behind. */
window.addEventListener("pagehide", () => {
  for (const id of pending.keys()) {
    void fetch(`/api/sessions/${encodeURIComponent(id)}`, { method: "DELETE", keepalive: true, credentials: "same-origin" });
  }
});
