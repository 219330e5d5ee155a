// Claude's memory about the person (the CLAUDE.md every session reads): a dialog to edit it as Markdown
// with a preview, saved only over the version it started from (a 409 says Claude or another tab saved
// meanwhile), kept up to date while open (other tabs at once, other devices and Claude within seconds),
// every version listed and restorable; and the chat card for a change Claude made.
import { ApiError, request } from "./api";
import type { components } from "./generated/api";
import { announce, h } from "./dom";
import { formatBytes, formatTime } from "./format";
import { renderCode, renderMarkdown } from "./markdown";
import { AUTHOR_TEXT, memoryStatus } from "./memory-status";

export type MemoryVersion = components["schemas"]["MemoryVersion"];
export type MemoryState = components["schemas"]["MemoryState"];
/** The `memory.changed` event's data (docs/protocol.md). */
export type MemoryChange = components["schemas"]["MemoryChanged"];

const ifMatch = (etag: string) => ({ "If-Match": `"${etag}"` });

/** How often an open, visible Memory dialog asks whether the memory changed elsewhere (a 304 while it did not). */
export const MEMORY_POLL_MS = 3000;

export const memoryApi = {
  read: () => request<MemoryState>("GET", "/api/memory"),
  /** The memory, or null while it is still the version `etag` names (the server answers 304 and no body). */
  readIfChanged: async (etag: string): Promise<MemoryState | null> => {
    try {
      return await request<MemoryState>("GET", "/api/memory", { headers: { "If-None-Match": `"${etag}"` } });
    } catch (error) {
      if (error instanceof ApiError && error.status === 304) return null;
      throw error;
    }
  },
  save: (content: string, etag: string) => request<MemoryState>("PUT", "/api/memory", { json: { content }, headers: ifMatch(etag) }),
  versions: () => request<{ versions: MemoryVersion[] }>("GET", "/api/memory/versions"),
  version: (id: string) => request<{ version: MemoryVersion; content: string }>("GET", `/api/memory/versions/${encodeURIComponent(id)}`),
  restore: (id: string, etag: string) =>
    request<MemoryState>("POST", `/api/memory/versions/${encodeURIComponent(id)}/restore`, { headers: ifMatch(etag) }),
};

/** The current memory a 409 carries (`detail.current`), or null for any other error. */
export function conflictCurrent(error: unknown): MemoryState | null {
  if (!(error instanceof ApiError) || error.status !== 409) return null;
  const detail = (error.body as { detail?: { current?: MemoryState } } | null)?.detail;
  return detail?.current ?? null;
}


// This browser's tabs tell each other when they changed the memory (a tab never hears its own message).
let channel: BroadcastChannel | null | undefined;
function memoryChannel(): BroadcastChannel | null {
  if (channel === undefined) channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("blu-memory");
  return channel;
}

/** Tell this browser's other tabs that the memory changed here: an open Memory dialog there re-reads it. */
export function announceMemoryChange(): void {
  memoryChannel()?.postMessage("changed");
}

export interface MemoryHost {
  toast(text: string, kind?: "info" | "error"): void;
}

export class MemoryDialog {
  readonly element: HTMLDialogElement;
  private editor: HTMLTextAreaElement;
  private preview: HTMLElement;
  private previewToggle: HTMLButtonElement;
  private saveButton: HTMLButtonElement;
  private status: HTMLElement;
  private conflict: HTMLElement;
  private versionsList: HTMLUListElement;
  private viewing: HTMLElement;
  /** The memory the editor's text started from: Save sends its etag, "Unsaved changes" compares with it. */
  private state: MemoryState | null = null;
  /** The memory as it is now, when a refused save (409) or a re-read said it changed meanwhile: the labels show this. */
  private latest: MemoryState | null = null;
  /** A save (or restore) of the editor's text was refused (409) since it was loaded: "Not saved" only then. */
  private refused = false;
  private saving = false;
  private refreshToken = 0;
  /** The next look at the memory while the dialog is open (another device or Claude may change it). */
  private pollTimer: number | undefined;
  /** Says the text shown was replaced by a version saved elsewhere while the dialog was open. */
  private changedNote: HTMLElement;

  constructor(private host: MemoryHost) {
    this.editor = h("textarea", {
      id: "memory-editor",
      class: "memory__editor",
      spellcheck: "true",
      "aria-label": "Memory (Markdown)",
      "aria-describedby": "memory-help",
      oninput: () => this.renderStatus(),
    });
    this.editor.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
        e.preventDefault();
        void this.save();
      }
    });
    this.preview = h("div", { class: "markdown memory__preview", hidden: true, "data-testid": "memory-preview", tabindex: "0" });
    this.previewToggle = h("button", { type: "button", class: "button button--small", "aria-pressed": "false", onclick: () => this.togglePreview() }, "Preview");
    this.saveButton = h("button", { type: "button", class: "button button--small button--primary", onclick: () => void this.save() }, "Save");
    this.status = h("p", { class: "memory__status muted", role: "status", "data-testid": "memory-status" });
    this.conflict = h("div", { class: "memory__conflict", role: "alert", hidden: true, "data-testid": "memory-conflict" });
    this.changedNote = h("p", { class: "muted memory__changed", role: "status", hidden: true, "data-testid": "memory-changed" });
    this.versionsList = h("ul", { class: "memory__versions", "aria-label": "Versions of the memory", "data-testid": "memory-versions" });
    this.viewing = h("div", { class: "memory__viewing", hidden: true });
    this.element = h(
      "dialog",
      { class: "preview memory", "aria-labelledby": "memory-title", "data-testid": "memory-dialog" },
      h(
        "header",
        { class: "preview__head" },
        h("h2", { id: "memory-title", class: "memory__title" }, "Memory"),
        h(
          "div",
          { class: "preview__actions" },
          this.previewToggle,
          this.saveButton,
          h("button", { type: "button", class: "button button--small", onclick: () => this.close() }, "Close"),
        ),
      ),
      h(
        "div",
        { class: "preview__body memory__body" },
        h(
          "p",
          { id: "memory-help", class: "muted memory__help" },
          "What Claude knows about you across sessions. Every new session starts with this text; Claude may add to it when you ask it to remember something. Markdown.",
        ),
        this.conflict,
        this.changedNote,
        this.editor,
        this.preview,
        this.status,
        h("h3", { class: "memory__subtitle" }, "Versions"),
        this.versionsList,
        this.viewing,
      ),
    );
    this.element.addEventListener("cancel", (e) => {
      if (!this.confirmDiscard()) e.preventDefault();
    });
    // The memory may change while the dialog is open: another tab of this browser says so at once; another
    // device (or Claude in another session) is noticed within MEMORY_POLL_MS while the tab is visible (a
    // conditional read: 304 while nothing changed), and at once when the tab is looked at again.
    memoryChannel()?.addEventListener("message", () => void this.refresh());
    window.addEventListener("focus", () => void this.refresh());
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && void this.refresh());
    this.element.addEventListener("close", () => {
      window.clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    });
  }

  /** Look again in MEMORY_POLL_MS, and so on while the dialog stays open; a hidden tab skips its turns. */
  private poll(): void {
    window.clearTimeout(this.pollTimer);
    this.pollTimer = window.setTimeout(async () => {
      if (!this.element.open) return;
      if (document.visibilityState === "visible" && this.state) {
        const shown = (this.latest ?? this.state).etag;
        await this.refresh(() => memoryApi.readIfChanged(shown));
      }
      if (this.element.open) this.poll();
    }, MEMORY_POLL_MS);
  }

  get dirty(): boolean {
    return this.state !== null && this.editor.value !== this.state.content;
  }

  async open(): Promise<void> {
    if (!this.element.open) this.element.showModal();
    this.conflict.hidden = true;
    this.changedNote.hidden = true;
    this.viewing.hidden = true;
    this.status.textContent = "Loading…";
    try {
      this.load(await memoryApi.read());
      await this.loadVersions();
      this.editor.focus();
    } catch (error) {
      this.status.textContent = `Couldn't load the memory: ${(error as Error).message}`;
    }
    if (this.element.open) this.poll();
  }

  close(): void {
    if (this.confirmDiscard()) this.element.close();
  }

  private confirmDiscard(): boolean {
    return !this.dirty || window.confirm("Discard your unsaved changes to the memory?");
  }

  /** Re-read the memory while the dialog is open, after it changed elsewhere (another tab, Claude, another
   * device). Unchanged text is replaced by the new version; unsaved edits are kept, and the dialog says the
   * memory changed and offers the new version (a Save still meets the 409 and its choices). */
  async refresh(read: () => Promise<MemoryState | null> = memoryApi.read): Promise<void> {
    if (!this.element.open || !this.state || this.saving) return;
    const token = ++this.refreshToken;
    let current: MemoryState | null;
    try {
      current = await read();
    } catch {
      return; // the next look or save finds out
    }
    if (current === null) return; // still the version shown
    if (token !== this.refreshToken || !this.element.open || !this.state || this.saving) return;
    if (current.etag === (this.latest ?? this.state).etag) return;
    const by = current.version ? AUTHOR_TEXT[current.version.author] ?? current.version.author : "someone";
    if (!this.dirty || this.editor.value === current.content) {
      this.load(current);
      this.conflict.hidden = true;
      this.changedNote.textContent = `The memory was changed elsewhere (saved by ${by}): this is the new version.`;
      this.changedNote.hidden = false;
      announce("The memory changed elsewhere; the dialog shows the new version.");
    } else {
      this.latest = current;
      this.renderStatus();
      this.changedNote.hidden = true;
      this.conflict.replaceChildren(
        h("p", null, h("strong", null, "The memory changed elsewhere"), ` (saved by ${by}). Your text is still here, unsaved.`),
        h(
          "div",
          { class: "memory__conflict-actions" },
          this.dropMineButton(current, "Load the new version (drop mine)"),
        ),
      );
      this.conflict.hidden = false;
    }
    void this.loadVersions();
  }

  private load(state: MemoryState): void {
    this.state = state;
    this.latest = null;
    this.refused = false;
    this.editor.value = state.content;
    this.editor.maxLength = state.max_chars;
    if (!this.preview.hidden) renderMarkdown(this.preview, state.content);
    this.renderStatus();
  }

  private renderStatus(): void {
    const state = this.state;
    if (!state) return;
    this.status.textContent = memoryStatus(state, this.latest, this.dirty, this.refused);
    this.saveButton.disabled = this.saving || !this.dirty;
  }

  /** The version that is current now: the one a refused save reported, else the one loaded. */
  private get currentVersionId(): string | undefined {
    return (this.latest ?? this.state)?.version?.id;
  }

  private togglePreview(): void {
    const showing = this.preview.hidden;
    if (showing) renderMarkdown(this.preview, this.editor.value);
    this.preview.hidden = !showing;
    this.editor.hidden = showing;
    this.previewToggle.textContent = showing ? "Edit" : "Preview";
    this.previewToggle.setAttribute("aria-pressed", String(showing));
  }

  /** Save over the version loaded; a 409 keeps the person's text and offers both ways out. */
  async save(baseEtag?: string): Promise<void> {
    if (!this.state || this.saving) return;
    this.saving = true;
    this.renderStatus();
    try {
      this.load(await memoryApi.save(this.editor.value, baseEtag ?? this.state.etag));
      announceMemoryChange();
      this.conflict.hidden = true;
      this.changedNote.hidden = true;
      announce("Memory saved.");
      this.host.toast("Memory saved.");
      await this.loadVersions();
    } catch (error) {
      const current = conflictCurrent(error);
      if (current) this.showConflict(current);
      else this.host.toast(`Couldn't save the memory: ${(error as Error).message}`, "error");
    } finally {
      this.saving = false;
      this.renderStatus();
    }
  }

  /** A button that drops the person's unsaved text for `current`, the version saved elsewhere. */
  private dropMineButton(current: MemoryState, label: string): HTMLButtonElement {
    const onclick = (): void => {
      this.load(current);
      this.conflict.hidden = true;
      void this.loadVersions();
    };
    return h("button", { type: "button", class: "button button--small", onclick }, label);
  }

  private showConflict(current: MemoryState): void {
    const by = current.version ? AUTHOR_TEXT[current.version.author] ?? current.version.author : "someone";
    const mine = this.editor.value;
    this.changedNote.hidden = true;
    this.latest = current;
    this.refused = true;
    this.renderStatus();
    this.conflict.replaceChildren(
      h("p", null, h("strong", null, "The memory changed while you were editing"), ` (saved by ${by}). Your text is still here, unsaved.`),
      h(
        "div",
        { class: "memory__conflict-actions" },
        this.dropMineButton(current, "Load theirs (drop mine)"),
        h(
          "button",
          {
            type: "button",
            class: "button button--small button--danger",
            onclick: () => {
              this.editor.value = mine;
              void this.save(current.etag);
            },
          },
          "Save mine over theirs",
        ),
      ),
    );
    this.conflict.hidden = false;
    void this.loadVersions();
  }

  private async loadVersions(): Promise<void> {
    try {
      const { versions } = await memoryApi.versions();
      const currentId = this.currentVersionId;
      this.versionsList.replaceChildren(
        ...versions.map((v) =>
          h(
            "li",
            { class: "memory__version", "data-version-id": v.id },
            h(
              "span",
              { class: "memory__version-meta" },
              h("span", { class: `badge ${v.author === "Claude" ? "badge--live" : "badge--muted"}` }, AUTHOR_TEXT[v.author] ?? v.author),
              ` ${formatTime(v.at)} · ${formatBytes(v.size)}`,
              v.id === currentId ? h("span", { class: "badge badge--ok" }, "Current") : null,
            ),
            h(
              "span",
              { class: "memory__version-actions" },
              h("button", { type: "button", class: "link-button", onclick: () => void this.view(v) }, "View"),
              v.id === currentId ? null : h("button", { type: "button", class: "link-button", onclick: () => void this.restore(v) }, "Restore"),
            ),
          ),
        ),
      );
      if (!versions.length) this.versionsList.replaceChildren(h("li", { class: "muted" }, "No versions yet."));
    } catch (error) {
      this.versionsList.replaceChildren(h("li", { class: "error-text" }, `Couldn't list versions: ${(error as Error).message}`));
    }
  }

  private async view(version: MemoryVersion): Promise<void> {
    try {
      const { content } = await memoryApi.version(version.id);
      const body = h("div", { class: "markdown" });
      renderMarkdown(body, content);
      this.viewing.replaceChildren(
        h("h4", null, `${AUTHOR_TEXT[version.author] ?? version.author}, ${formatTime(version.at)}`),
        body,
        h("button", { type: "button", class: "link-button", onclick: () => (this.viewing.hidden = true) }, "Hide"),
      );
      this.viewing.hidden = false;
      this.viewing.scrollIntoView({ block: "nearest" });
    } catch (error) {
      this.host.toast(`Couldn't open that version: ${(error as Error).message}`, "error");
    }
  }

  private async restore(version: MemoryVersion): Promise<void> {
    if (!this.state || !this.confirmDiscard()) return;
    try {
      this.load(await memoryApi.restore(version.id, this.state.etag));
      announceMemoryChange();
      this.conflict.hidden = true;
      this.changedNote.hidden = true;
      this.host.toast(`Restored the version of ${formatTime(version.at)}.`);
      await this.loadVersions();
    } catch (error) {
      const current = conflictCurrent(error);
      if (current) this.showConflict(current);
      else this.host.toast(`Couldn't restore: ${(error as Error).message}`, "error");
    }
  }
}

/** The chat's card for a change Claude made to the memory: the diff, and Revert (restores the version
 * before it, only if the memory is still what Claude wrote). For the chat view to place after the turn. */
export function memoryChangeCard(change: MemoryChange, host: MemoryHost & { openMemory?(): void }): HTMLElement {
  const diff = h("div", { class: "preview__code memory-card__diff" });
  renderCode(diff, change.diff || "(no textual change)", "memory.diff");
  const revert = h("button", { type: "button", class: "button button--small" }, "Revert");
  const note = h("span", { class: "muted memory-card__note", role: "status" });
  revert.disabled = !change.previous;
  revert.addEventListener("click", async () => {
    if (!change.previous) return;
    revert.disabled = true;
    try {
      await memoryApi.restore(change.previous.id, change.version.etag);
      announceMemoryChange();
      note.textContent = "Reverted.";
      announce("Claude's change to the memory was reverted.");
    } catch (error) {
      revert.disabled = false;
      note.textContent = conflictCurrent(error) ? "The memory changed again since; open Memory to compare." : `Couldn't revert: ${(error as Error).message}`;
    }
  });
  return h(
    "section",
    { class: "memory-card", "aria-label": "Claude changed its memory", "data-testid": "memory-card" },
    h("p", { class: "memory-card__title" }, h("strong", null, "Claude updated its memory"), change.diff_truncated ? " (diff shortened)" : ""),
    diff,
    h(
      "div",
      { class: "memory-card__actions" },
      revert,
      host.openMemory ? h("button", { type: "button", class: "link-button", onclick: () => host.openMemory?.() }, "Open memory") : null,
      note,
    ),
  );
}
