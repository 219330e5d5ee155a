// What the Memory dialog says about the memory, as plain text (no DOM): for memory.ts, and its unit tests.
import { relativeTime } from "./format";
import type { components } from "./generated/api";

type MemoryState = components["schemas"]["MemoryState"];

export const AUTHOR_TEXT: Record<string, string> = { you: "You", Claude: "Claude", restore: "Restored" };

/** The dialog's status line: what the memory is now (saved when, by whom, or empty) and whether the text in
 * the editor is saved. `latest` (the memory now) may differ from `loaded` (what the editor started from)
 * after a refused save (`refused`: the line says the save failed because the memory changed, and what it is
 * now) or after a change elsewhere met unsaved edits (no save was tried: only "Unsaved changes." and what the
 * memory is now). */
export function memoryStatus(loaded: MemoryState, latest: MemoryState | null, dirty: boolean, refused = false): string {
  const now = latest ?? loaded;
  const version = now.version;
  const saved = version ? `Saved ${relativeTime(version.at)} by ${AUTHOR_TEXT[version.author] ?? version.author}.` : "Empty: nothing saved yet.";
  if (refused && latest && latest.etag !== loaded.etag) {
    const what = version ? saved.replace(/^Saved/, "saved") : "empty.";
    return `Not saved: the memory changed meanwhile. It is now ${what}`;
  }
  return dirty ? `Unsaved changes. ${saved}` : saved;
}
