// Unsent drafts of the message box, one per session and one for the new-chat box, kept in the tab's
// sessionStorage (they outlive switching sessions and a reload, not the tab); sending clears one.
export const NEW_CHAT = "new";
const PREFIX = "blu.draft.";

/** The storage the drafts live in: `sessionStorage` in the page, a stand-in in tests. */
export type DraftStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function storage(): DraftStore | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage blocked: drafts are not kept
  }
}

function keyOf(sessionId: string | null): string {
  return PREFIX + (sessionId ?? NEW_CHAT);
}

/** The draft of a session (null: the new-chat box); "" when there is none. */
export function loadDraft(sessionId: string | null, store: DraftStore | null = storage()): string {
  try {
    return store?.getItem(keyOf(sessionId)) ?? "";
  } catch {
    return "";
  }
}

/** Keep `text` as the draft of a session (null: the new-chat box); blank text forgets it. */
export function saveDraft(sessionId: string | null, text: string, store: DraftStore | null = storage()): void {
  try {
    if (text.trim()) store?.setItem(keyOf(sessionId), text);
    else store?.removeItem(keyOf(sessionId));
  } catch {
    // full or blocked: the draft is not kept
  }
}

/** A session is gone: its draft (and `unsent`, text that could not be sent) moves to the new-chat box,
 * after whatever that box already held. Returns the new-chat box's draft. */
export function carryDraft(sessionId: string, unsent = "", store: DraftStore | null = storage()): string {
  const parts = [loadDraft(null, store), loadDraft(sessionId, store), unsent].filter((t) => t.trim());
  const merged = [...new Set(parts)].join("\n\n");
  saveDraft(sessionId, "", store);
  saveDraft(null, merged, store);
  return merged;
}

/** A message was refused without being stored (the login ended: the page went to the login form): its text
 * goes back into the session's draft (null: the new-chat box), before what the box held since, so it is in the
 * box again when the person returns. Returns the draft. */
export function keepUnsent(sessionId: string | null, text: string, store: DraftStore | null = storage()): string {
  const parts = [text, loadDraft(sessionId, store)].filter((t) => t.trim());
  const merged = [...new Set(parts)].join("\n\n");
  saveDraft(sessionId, merged, store);
  return merged;
}
