// Unsent drafts of the message box, one per session and one for the new-chat box, kept in the tab's
// sessionStorage (they outlive switching sessions and a reload, not the tab); sending clears one. A draft is
// its text and its attachments: the files already uploaded to the workspace (path → image type or "file",
// the shape a sent message carries), kept beside the text so their chips come back with it.
export const NEW_CHAT = "new";
const PREFIX = "blu.draft.";
const FILES = "blu.draft-files.";

/** A draft's attachments: path in the workspace → image type or "file". */
export type DraftFiles = Record<string, string>;

/** The storage the drafts live in: `sessionStorage` in the page, a stand-in in tests. */
export type DraftStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function storage(): DraftStore | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage blocked: drafts are not kept
  }
}

function keyOf(sessionId: string | null, prefix = PREFIX): string {
  return prefix + (sessionId ?? NEW_CHAT);
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

/** The attachments of a session's draft (null: the new-chat box); {} when there are none. */
export function loadDraftFiles(sessionId: string | null, store: DraftStore | null = storage()): DraftFiles {
  try {
    const parsed: unknown = JSON.parse(store?.getItem(keyOf(sessionId, FILES)) ?? "{}");
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return {};
  }
}

/** Keep `files` as the attachments of a session's draft (null: the new-chat box); none forgets them. */
export function saveDraftFiles(sessionId: string | null, files: DraftFiles, store: DraftStore | null = storage()): void {
  try {
    if (Object.keys(files).length) store?.setItem(keyOf(sessionId, FILES), JSON.stringify(files));
    else store?.removeItem(keyOf(sessionId, FILES));
  } catch {
    // full or blocked: the attachments are not kept
  }
}

/** A session is gone: its draft (and `unsent`, text that could not be sent, with its `files`) moves to the
 * new-chat box, after whatever that box already held. Returns the new-chat box's draft text. */
export function carryDraft(sessionId: string, unsent = "", files: DraftFiles = {}, store: DraftStore | null = storage()): string {
  const parts = [loadDraft(null, store), loadDraft(sessionId, store), unsent].filter((t) => t.trim());
  const merged = [...new Set(parts)].join("\n\n");
  const attached = { ...loadDraftFiles(null, store), ...loadDraftFiles(sessionId, store), ...files };
  saveDraft(sessionId, "", store);
  saveDraftFiles(sessionId, {}, store);
  saveDraft(null, merged, store);
  saveDraftFiles(null, attached, store);
  return merged;
}

/** A message was refused without being stored (the login ended: the page went to the login form): its text
 * goes back into the session's draft (null: the new-chat box), before what the box held since, and its
 * attachments (uploaded already) with it, so both are in the box again when the person returns. Returns the
 * draft's text. */
export function keepUnsent(sessionId: string | null, text: string, files: DraftFiles = {}, store: DraftStore | null = storage()): string {
  const parts = [text, loadDraft(sessionId, store)].filter((t) => t.trim());
  const merged = [...new Set(parts)].join("\n\n");
  saveDraft(sessionId, merged, store);
  saveDraftFiles(sessionId, { ...files, ...loadDraftFiles(sessionId, store) }, store);
  return merged;
}
