// The sessions list: newest first, search by name, new session, show archived, paging.
import { api, type ListedSession } from "./api";
import { h } from "./dom";
import { relativeTime } from "./format";
import { isDeleting } from "./session-delete";

export interface SidebarHost {
  currentId(): string | null;
  newSession(): void;
}

const MAX_SEARCH_PAGES = 10;

export class Sidebar {
  readonly element: HTMLElement;
  private list: HTMLUListElement;
  private search: HTMLInputElement;
  private archived: HTMLInputElement;
  private more: HTMLButtonElement;
  private emptyNote: HTMLElement;
  private sessions = new Map<string, ListedSession>();
  private cursor: string | null = null;
  private loading = false;
  private token = 0;

  constructor(private host: SidebarHost) {
    this.search = h("input", {
      id: "session-search",
      type: "search",
      class: "sidebar__search",
      placeholder: "Search sessions",
      "aria-label": "Search sessions by name",
      autocomplete: "off",
      oninput: () => void this.onSearch(),
    });
    this.archived = h("input", { id: "show-archived", type: "checkbox", onchange: () => void this.refresh() });
    this.list = h("ul", { class: "sidebar__list", "aria-label": "Sessions" });
    this.more = h("button", { type: "button", class: "link-button sidebar__more", hidden: true, onclick: () => void this.loadMore() }, "Load more sessions");
    this.emptyNote = h("p", { class: "sidebar__empty", hidden: true }, "No sessions yet.");
    this.element = h(
      "nav",
      { id: "sidebar", class: "sidebar", "aria-label": "Sessions" },
      h(
        "div",
        { class: "sidebar__head" },
        h("button", { type: "button", class: "button button--primary sidebar__new", onclick: () => this.host.newSession() }, "+ New session"),
        this.search,
        h("label", { class: "sidebar__toggle", for: "show-archived" }, this.archived, " Show archived"),
      ),
      this.list,
      this.emptyNote,
      this.more,
    );
  }

  focusSearch(): void {
    this.search.focus();
    this.search.select();
  }

  async refresh(): Promise<void> {
    const token = ++this.token;
    this.loading = true;
    try {
      const page = await api.listSessions({ archived: this.archived.checked });
      if (token !== this.token) return;
      this.sessions.clear();
      for (const s of page.sessions) this.sessions.set(s.id, s);
      this.cursor = page.next;
      this.render();
      if (this.search.value.trim()) await this.loadAllForSearch(token);
    } catch {
      // the overlay or the login screen says why
    } finally {
      if (token === this.token) this.loading = false;
    }
  }

  private async loadMore(): Promise<void> {
    if (!this.cursor || this.loading) return;
    const token = this.token;
    this.loading = true;
    try {
      const page = await api.listSessions({ archived: this.archived.checked, cursor: this.cursor });
      if (token !== this.token) return;
      for (const s of page.sessions) if (!this.sessions.has(s.id)) this.sessions.set(s.id, s);
      this.cursor = page.next;
      this.render();
    } catch {
      // retried by the next click
    } finally {
      this.loading = false;
    }
  }

  /** The API has no name search: while searching, page through the (recent) sessions and filter here. */
  private async loadAllForSearch(token: number): Promise<void> {
    for (let i = 0; i < MAX_SEARCH_PAGES && this.cursor && token === this.token; i += 1) {
      await this.loadMore();
    }
  }

  private async onSearch(): Promise<void> {
    this.render();
    if (this.search.value.trim() && this.cursor) await this.loadAllForSearch(this.token);
  }

  /** A session changed (from the stream or an action): update it in place and keep newest first. */
  upsert(session: ListedSession): void {
    if (session.status === "archived" && !this.archived.checked && session.id !== this.host.currentId()) {
      this.sessions.delete(session.id);
    } else {
      this.sessions.set(session.id, { ...this.sessions.get(session.id), ...session });
    }
    this.render();
  }

  remove(id: string): void {
    this.sessions.delete(id);
    this.render();
  }

  get showArchived(): boolean {
    return this.archived.checked;
  }

  render(): void {
    const query = this.search.value.trim().toLowerCase();
    const current = this.host.currentId();
    const items = [...this.sessions.values()]
      .filter((s) => !isDeleting(s.id)) // deleted with a few seconds to undo: a refresh must not bring it back
      .filter((s) => this.archived.checked || s.status !== "archived" || s.id === current)
      .filter((s) => !query || (s.name || "New session").toLowerCase().includes(query))
      .sort((a, b) => b.updated_at - a.updated_at);
    this.list.replaceChildren(
      ...items.map((s) => {
        const name = s.name || "New session";
        const link = h(
          "a",
          {
            class: "session-link",
            href: `#/s/${s.id}`,
            "data-session-id": s.id,
            "aria-current": s.id === current ? "page" : undefined,
          },
          h("span", { class: "session-link__name", dir: "auto" }, name),
          h(
            "span",
            { class: "session-link__meta" },
            s.pending_approvals ? h("span", { class: "badge badge--warn", "data-testid": "needs-you" }, "Needs you") : null,
            s.status === "archived" ? h("span", { class: "badge badge--muted" }, "Archived") : null,
            s.forked_from ? h("span", { class: "badge badge--muted" }, "Fork") : null,
            `${relativeTime(s.updated_at)} · ${s.message_count} message${s.message_count === 1 ? "" : "s"}`,
          ),
        );
        return h("li", null, link);
      }),
    );
    this.emptyNote.hidden = items.length > 0;
    this.emptyNote.textContent = query ? "No session matches that name." : this.archived.checked ? "No sessions yet." : "No sessions yet. Start one with “New session”.";
    this.more.hidden = !this.cursor;
  }
}
