// Search across everything, under the sessions list's search box: as the person types, GET /api/search
// finds session names, artifact paths and the text of every message; each hit shows where it is with the
// match marked, and opens the session at that message (the chat loads older pages until it is there).
import { chatApi, type SearchHit } from "./api-chat";
import { h } from "./dom";
import { authorOf, relativeTime } from "./format";
import { matchRanges, searchTerms } from "./search-text";

export interface SearchHost {
  /** Open a session; with a message id, scroll to that message and mark the words. */
  open(sessionId: string, messageId: string | null, terms: string[]): void;
}

const DELAY_MS = 200;

/** `text` as nodes with every match wrapped in <mark>. */
export function marked(text: string, terms: readonly string[]): (string | HTMLElement)[] {
  const out: (string | HTMLElement)[] = [];
  let at = 0;
  for (const [start, end] of matchRanges(text, terms)) {
    if (start > at) out.push(text.slice(at, start));
    out.push(h("mark", null, text.slice(start, end)));
    at = end;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

export class SearchResults {
  readonly element: HTMLElement;
  private list: HTMLUListElement;
  private note: HTMLElement;
  private timer = 0;
  private token = 0;

  constructor(
    private input: HTMLInputElement,
    private host: SearchHost,
  ) {
    this.list = h("ul", { class: "search__list", "aria-label": "Search results" });
    this.note = h("p", { class: "search__note", role: "status", "aria-live": "polite" });
    this.element = h("section", { class: "search", hidden: true, "aria-label": "Found in messages, files and sessions", "data-testid": "search-results" }, this.note, this.list);
    input.placeholder = "Search everything";
    input.setAttribute("aria-label", "Search sessions, messages and files");
    input.addEventListener("input", () => this.schedule());
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" && !this.element.hidden) {
        event.preventDefault();
        this.list.querySelector<HTMLElement>("button")?.focus();
      }
    });
    this.list.addEventListener("keydown", (event) => {
      const buttons = Array.from(this.list.querySelectorAll<HTMLElement>("button"));
      const at = buttons.indexOf(event.target as HTMLElement);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const next = at + (event.key === "ArrowDown" ? 1 : -1);
        (next < 0 ? this.input : buttons[Math.min(next, buttons.length - 1)])?.focus();
      }
    });
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.run(), DELAY_MS);
  }

  private async run(): Promise<void> {
    const query = this.input.value.trim();
    const token = ++this.token;
    const terms = searchTerms(query);
    if (!terms.length) {
      this.element.hidden = true;
      this.list.replaceChildren();
      return;
    }
    this.element.hidden = false;
    this.note.textContent = "Searching…";
    try {
      const { hits, complete } = await chatApi.search(query);
      if (token !== this.token) return;
      this.render(hits, terms);
      const count = hits.length ? `${hits.length}${hits.length >= 30 ? "+" : ""} found` : "Nothing found in messages, files or session names.";
      this.note.textContent = complete ? count : `${count} (the newest part of the history was searched)`;
    } catch (error) {
      if (token === this.token) this.note.textContent = `Couldn't search: ${(error as Error).message}`;
    }
  }

  private render(hits: SearchHit[], terms: string[]): void {
    this.list.replaceChildren(
      ...hits.map((hit) => {
        const where =
          hit.kind === "session" ? "Session" : hit.kind === "artifact" ? `File · ${hit.session_name || "Session"}` : `${authorOf(hit.role ?? "user", hit.sent_by)} · ${hit.session_name || "Session"}`;
        return h(
          "li",
          { class: `search__hit search__hit--${hit.kind}` },
          h(
            "button",
            {
              type: "button",
              class: "search__open",
              "data-session-id": hit.session_id,
              "data-message-id": hit.message_id ?? "",
              onclick: () => this.host.open(hit.session_id, hit.kind === "message" ? hit.message_id : null, terms),
            },
            h("span", { class: "search__where", dir: "auto" }, where, h("time", { class: "search__time" }, ` · ${relativeTime(hit.at)}`)),
            h("span", { class: "search__snippet", dir: "auto" }, ...marked(hit.snippet, terms)),
          ),
        );
      }),
    );
  }
}
