// The message list's DOM: one <li> per message of the conversation, created, moved and removed as
// `Changes` say (conversation.ts), and rendered again only when marked. Tool cards are updated in place,
// so an opened card stays open. Actions (Send again, Retry, Fork from here, Show the whole message) are
// buttons with `data-action`; the chat handles their clicks. A reply Regenerate replaced is an earlier version:
// a one-line disclosure ("Earlier version 1 of 2") that opens to the card; that is the view's own state.
import { renderAttachments } from "./attachments";
import {
  callAwaitsAnswer,
  canContinue,
  canEdit,
  canFork,
  canRegenerate,
  cancellableTurn,
  deliveryState,
  isEarlierVersion,
  queuedAhead,
  retryOf,
  shownText,
  turnOf,
  versionOf,
  type Changes,
  type Conversation,
  type Message,
} from "./conversation";
import { h } from "./dom";
import { authorOf, formatDuration, formatTime, usageText } from "./format";
import { icon } from "./icons";
import { handleCopyClicks, renderMarkdown } from "./markdown";
import {
  bashView,
  callStatus,
  cleanResult,
  deniedBy,
  fileDiffs,
  segments,
  taskLists,
  TASK_TOOLS,
  toolTarget as targetOf,
  type DiffLine,
  type PlacedCall,
  type Task,
} from "./tools";

let workspaceDir: string | null = null;

/** The agent's working directory (`/api/config`): tool cards show paths relative to it. */
export function setWorkspaceDir(dir: string | null | undefined): void {
  workspaceDir = dir ?? null;
}

export type MessageAction = "retry" | "retry-turn" | "continue" | "cancel" | "fork" | "full-text" | "copy" | "edit" | "regenerate";

function createElement(msg: Message): HTMLLIElement {
  const sender = msg.sent_by ?? "person";
  const who = authorOf(msg.role, sender);
  const li = h("li", { class: `msg msg--${msg.role}${msg.role === "user" && sender !== "person" ? ` msg--by-${sender}` : ""}`, "data-role": msg.role });
  if (msg.role === "user") li.dataset.sentBy = sender;
  if (msg.role === "assistant") {
    // Shown only on an earlier version (Regenerate replaced it): opens and closes the card below it.
    const toggle = h("button", { type: "button", class: "msg__version", "data-version": "toggle", "aria-expanded": "false", hidden: true }, h("span", { class: "msg__version-mark", "aria-hidden": "true" }, "▸"), h("span", { class: "msg__version-label" }));
    li.append(toggle);
  }
  const article = h(
    "article",
    { class: "msg__card", "aria-label": `${who}` },
    h(
      "header",
      { class: "msg__meta" },
      h("span", { class: "msg__who" }, who),
      h("span", { class: "msg__channel" }),
      h("time", { class: "msg__time" }),
      h("span", { class: "msg__badge" }),
      h("span", { class: "msg__versions" }),
    ),
    // dir=auto: right-to-left text (Arabic, Hebrew) runs and punctuates the way it is written.
    h("div", msg.role === "assistant" ? { class: "msg__body" } : { class: "msg__body msg__body--plain", dir: "auto" }),
    h("p", { class: "msg__error", dir: "auto", hidden: true }),
    h("footer", { class: "msg__footer" }, h("span", { class: "msg__usage" }), h("span", { class: "msg__actions" })),
  );
  li.append(article);
  return li;
}

/** The state badge: what happened to this message. */
function badgeOf(state: Conversation, msg: Message): [string, string] {
  if (msg.local?.failed) return ["Not sent", "error"];
  if (msg.local && !msg.local.messageId) return ["Sending…", "muted"];
  if (msg.role === "user") {
    const ahead = queuedAhead(state, msg);
    if (ahead !== null) return [ahead > 0 ? `Queued · ${ahead} ahead` : "Queued · next", "muted"];
    const turn = turnOf(state, msg);
    if (turn?.status === "waiting") return [turn.reason === "approval" ? "Waiting for your answer" : "Waiting for a free Claude process", "muted"];
    return ["", ""];
  }
  if (msg.state === "running") return ["Answering…", "live"];
  if (msg.state === "interrupted") return ["Interrupted", "warn"];
  if (msg.state === "error") return ["Failed", "error"];
  return ["", ""];
}

const TASK_MARK: Record<Task["status"], string> = { completed: "☑", in_progress: "◐", pending: "☐" };
const TASK_LABEL: Record<Task["status"], string> = { completed: "done", in_progress: "in progress", pending: "to do" };

function diffView(diffs: DiffLine[][]): HTMLElement {
  const wrap = h("div", { class: "diff" });
  for (const lines of diffs) {
    const pre = h("pre", { class: "diff__hunk", "aria-label": "Changes: lines starting with + were added, - removed" });
    for (const line of lines) {
      const mark = line.kind === "add" ? "+" : line.kind === "del" ? "-" : " ";
      pre.append(h("span", { class: `diff__line diff__line--${line.kind}` }, `${mark} ${line.text}`));
    }
    wrap.append(pre);
  }
  return wrap;
}

function taskView(tasks: readonly Task[]): HTMLElement {
  const list = h("ul", { class: "tasks", "aria-label": "Task list" });
  for (const task of tasks) {
    list.append(
      h(
        "li",
        { class: `tasks__item tasks__item--${task.status}`, "data-status": task.status, dir: "auto" },
        h("span", { class: "tasks__mark", "aria-hidden": "true" }, TASK_MARK[task.status]),
        h("span", { class: "tasks__text" }, task.text),
        h("span", { class: "sr-only" }, ` (${TASK_LABEL[task.status]})`),
      ),
    );
  }
  if (!tasks.length) list.append(h("li", { class: "tasks__item tasks__item--empty" }, "No tasks."));
  return list;
}

/** The card's inside: a diff, a command with its output, a checklist, or the input and result. */
function toolBody(call: PlacedCall, tasks: readonly Task[] | undefined, awaiting: boolean): HTMLElement[] {
  const parts: HTMLElement[] = [];
  const relative = (text: string) => (workspaceDir ? text.split(`${workspaceDir.replace(/\/+$/, "")}/`).join("") : text);
  const result = relative(cleanResult(call.result_summary));
  const bash = bashView(call);
  const diffs = fileDiffs(call);
  if (tasks) {
    parts.push(taskView(tasks));
  } else if (bash) {
    parts.push(h("pre", { class: "tool__command", dir: "ltr" }, `$ ${bash.command}`));
  } else if (diffs) {
    parts.push(diffView(diffs));
  } else {
    parts.push(h("h4", null, "Input"), h("pre", { class: "tool__input", dir: "auto" }, relative(call.input_summary)));
  }
  if (call.outcome === "denied") {
    parts.push(h("p", { class: "tool__denied" }, `${deniedBy(call)}: ${result}`));
  } else if (bash || !tasks || call.outcome !== "ok") {
    const output = bash ? bash.output : result;
    const label = bash ? (bash.exit === null ? "Output" : `Output · exit ${bash.exit}`) : call.outcome === "error" ? "Error" : "Result";
    const text = output || (call.outcome !== "pending" ? "(no output)" : awaiting ? "Waiting for your answer to the request below…" : "Waiting for the result…");
    parts.push(h("h4", { class: "tool__result-label" }, label), h("pre", { class: `tool__result${call.outcome === "error" ? " tool__result--error" : ""}`, dir: "auto" }, text));
  }
  return parts;
}

function renderTool(card: HTMLDetailsElement | null, call: PlacedCall, tasks: readonly Task[] | undefined, last: boolean, awaiting: boolean): HTMLDetailsElement {
  if (!card) {
    card = h(
      "details",
      { class: "tool", "data-tool-id": call.id, "data-tool": call.name },
      h(
        "summary",
        { class: "tool__summary" },
        h("span", { class: "tool__name" }),
        h("span", { class: "tool__target" }),
        h("span", { class: "tool__exit" }),
        h("span", { class: "tool__outcome" }),
        h("span", { class: "tool__duration" }),
      ),
      h("div", { class: "tool__body" }),
    );
    // A task list is a live checklist: the newest one of a reply shows open, and closes when a newer one
    // comes (unless the person opened or closed it).
    if (tasks && last) {
      card.open = true;
      card.dataset.autoOpen = "true";
      const opened = card;
      card.querySelector("summary")!.addEventListener("click", () => delete opened.dataset.autoOpen);
    }
  }
  if (!last && card.dataset.autoOpen) {
    card.open = false;
    delete card.dataset.autoOpen;
  }
  const key = JSON.stringify([call.outcome, call.input_summary, call.result_summary, call.duration_ms, call.decision, tasks ?? null, workspaceDir, awaiting]);
  if (card.dataset.key === key) return card;
  card.dataset.key = key;
  card.dataset.outcome = call.outcome;
  card.classList.toggle("tool--tasks", !!tasks);
  (card.querySelector(".tool__name") as HTMLElement).textContent = call.name;
  const target = card.querySelector(".tool__target") as HTMLElement;
  target.textContent = targetOf(call, workspaceDir);
  target.title = target.textContent;
  const bash = bashView(call);
  const exit = card.querySelector(".tool__exit") as HTMLElement;
  exit.textContent = bash && bash.exit !== null ? `exit ${bash.exit}` : "";
  const outcome = card.querySelector(".tool__outcome") as HTMLElement;
  const status = callStatus(call, awaiting);
  outcome.textContent = status.label;
  outcome.className = `tool__outcome badge badge--${status.kind}`;
  card.dataset.awaiting = String(awaiting);
  (card.querySelector(".tool__duration") as HTMLElement).textContent = formatDuration(call.duration_ms);
  (card.querySelector(".tool__body") as HTMLElement).replaceChildren(...toolBody(call, tasks, awaiting));
  return card;
}

/** The reply's text and tool cards in the order they happened; cards are kept (an open one stays open). */
function renderFlow(body: HTMLElement, state: Conversation, msg: Message, text: string): void {
  const calls = msg.tool_calls as readonly PlacedCall[];
  const parts = msg.role === "assistant" ? segments(text, calls) : [{ kind: "text" as const, text }];
  const lists = taskLists(calls);
  const lastTaskCall = [...calls].reverse().find((c) => TASK_TOOLS.has(c.name))?.id;
  const cards = new Map<string, HTMLDetailsElement>();
  for (const el of Array.from(body.querySelectorAll<HTMLDetailsElement>(":scope > details.tool"))) cards.set(el.dataset.toolId ?? "", el);
  const texts = Array.from(body.querySelectorAll<HTMLElement>(":scope > .msg__text"));
  const nodes: HTMLElement[] = [];
  let t = 0;
  for (const part of parts) {
    if (part.kind === "tool") {
      nodes.push(renderTool(cards.get(part.call.id) ?? null, part.call, lists.get(part.call.id), part.call.id === lastTaskCall, callAwaitsAnswer(state, part.call.id)));
      continue;
    }
    let el = texts[t];
    t += 1;
    // The person's text takes its direction from the body (dir=auto); Markdown blocks each have their own.
    if (!el) el = h("div", msg.role === "assistant" ? { class: "msg__text markdown", dir: "auto" } : { class: "msg__text" });
    if (el.dataset.rendered !== part.text) {
      el.dataset.rendered = part.text;
      if (msg.role === "assistant") renderMarkdown(el, part.text);
      else el.textContent = part.text;
    }
    nodes.push(el);
  }
  const current = Array.from(body.children);
  if (current.length !== nodes.length || current.some((el, i) => el !== nodes[i])) body.replaceChildren(...nodes);
}

function renderMessage(li: HTMLLIElement, state: Conversation, msg: Message): void {
  const q = <T extends Element>(sel: string) => li.querySelector(sel) as T;
  li.dataset.id = msg.local ? "" : msg.id;
  li.dataset.state = deliveryState(msg);
  li.dataset.channel = msg.channel;
  li.classList.toggle("msg--streaming", msg.state === "running");
  li.classList.toggle("msg--voice", msg.channel === "voice");
  const channel = q<HTMLElement>(".msg__channel");
  if (channel.dataset.channel !== msg.channel) {
    channel.dataset.channel = msg.channel;
    channel.replaceChildren(icon(msg.channel === "voice" ? "mic" : "keyboard", 14), msg.channel === "voice" ? "Voice" : "Text");
  }
  channel.title = msg.channel === "voice" ? "Spoken (transcribed)" : "Typed";
  const time = q<HTMLTimeElement>(".msg__time");
  time.dateTime = new Date(msg.created_at * 1000).toISOString();
  time.textContent = formatTime(msg.created_at);

  const badge = q<HTMLElement>(".msg__badge");
  const [badgeText, badgeKind] = badgeOf(state, msg);
  badge.textContent = badgeText;
  badge.className = `msg__badge${badgeKind ? ` badge badge--${badgeKind}` : ""}`;
  renderVersion(li, state, msg);

  renderAttachments(q<HTMLElement>("article"), msg.attachments);
  const body = q<HTMLElement>(".msg__body");
  const text = shownText(msg);
  renderFlow(body, state, msg, text);
  body.hidden = !text && !msg.tool_calls.length && msg.state !== "running";

  const error = q<HTMLElement>(".msg__error");
  const errorText = msg.local?.failed ?? msg.error ?? "";
  error.textContent = errorText;
  error.hidden = !errorText;

  const usage = q<HTMLElement>(".msg__usage");
  const { text: usageLine, title: usageTitle } = msg.role === "assistant" ? usageText(msg) : { text: "", title: "" };
  usage.textContent = usageLine;
  usage.title = usageTitle;

  // State-specific actions stay in sight; the rest are in the message's one menu (⋯).
  const actions = q<HTMLElement>(".msg__actions");
  actions.replaceChildren();
  const action = (name: MessageAction, label: string, aria?: string) =>
    h("button", { type: "button", class: "link-button", "data-action": name, "aria-label": aria ?? null }, label);
  if (msg.truncated && !msg.local && msg.state !== "running") {
    // The record holds the text cut; the whole text is kept and one click away.
    actions.append(action("full-text", "Shortened here · Show the whole message"));
  }
  if (msg.local?.failed) actions.append(action("retry", "Send again"));
  if (cancellableTurn(state, msg)) actions.append(action("cancel", "Cancel", "Cancel this queued message"));
  const retry = retryOf(state, msg);
  if (retry === "resend") actions.append(action("retry-turn", "Retry", "Retry: send the same message again"));
  // Not the person's words (Blu's note, a scheduled run): answered again in place, never sent as theirs.
  if (retry === "regenerate") actions.append(action("regenerate", "Retry", "Retry: answer the same prompt again"));
  if (canContinue(state, msg)) actions.append(action("continue", "Continue", "Continue the reply where it stopped"));

  const items: HTMLElement[] = [];
  const item = (name: MessageAction, label: string) => h("button", { type: "button", role: "menuitem", class: "menu__item", "data-action": name, tabindex: "-1" }, label);
  if (!msg.local || msg.local.messageId) items.push(item("copy", "Copy as Markdown"));
  if (canEdit(msg)) items.push(item("edit", "Edit and resend"));
  if (canRegenerate(state, msg)) items.push(item("regenerate", "Regenerate"));
  if (canFork(msg)) items.push(item("fork", "Fork from here"));
  if (items.length) {
    const when = formatTime(msg.created_at);
    const more = h(
      "button",
      { type: "button", class: "msg__more", "data-menu": "toggle", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `Actions for this message (${when})`, title: "Actions" },
      "⋯",
    );
    const menu = h("div", { class: "menu", role: "menu", hidden: true, "aria-label": `Actions (${when})` }, ...items);
    actions.append(h("span", { class: "msg__menu" }, more, menu));
  }
}

/** A reply with other versions (Regenerate): an earlier one is collapsed behind its disclosure; every one says
 * which version it is. */
function renderVersion(li: HTMLLIElement, state: Conversation, msg: Message): void {
  const version = versionOf(state, msg);
  const earlier = isEarlierVersion(msg);
  const of = version ? ` ${version.index} of ${version.count}` : "";
  li.classList.toggle("msg--earlier", earlier);
  (li.querySelector(".msg__versions") as HTMLElement).textContent = version ? `${earlier ? "Earlier version" : "Version"}${of}` : "";
  const toggle = li.querySelector<HTMLButtonElement>(":scope > .msg__version");
  if (!toggle) return;
  toggle.hidden = !earlier;
  li.dataset.version = `Earlier version${of}`;
  if (earlier) setExpanded(li, li.dataset.expanded === "true");
  else (li.querySelector(":scope > .msg__card") as HTMLElement).hidden = false;
}

/** Open or close an earlier version's card (what the page shows only: a reload shows it closed). */
function setExpanded(li: HTMLLIElement, open: boolean): void {
  li.dataset.expanded = String(open);
  const toggle = li.querySelector<HTMLButtonElement>(":scope > .msg__version");
  const card = li.querySelector<HTMLElement>(":scope > .msg__card");
  if (!toggle || toggle.hidden || !card) return;
  toggle.setAttribute("aria-expanded", String(open));
  (toggle.querySelector(".msg__version-label") as HTMLElement).textContent = `${li.dataset.version ?? "Earlier version"} · ${open ? "Hide" : "Show"}`;
  toggle.title = open ? "Hide this earlier version of the reply" : "Show this earlier version of the reply (Claude no longer has it in mind)";
  card.hidden = !open;
}

function openMenu(toggle: HTMLButtonElement): void {
  const menu = toggle.nextElementSibling as HTMLElement;
  toggle.setAttribute("aria-expanded", "true");
  menu.hidden = false;
  placeMenu(toggle, menu);
  menu.querySelector<HTMLElement>("[role=menuitem]")?.focus({ preventScroll: true });
}

/** A menu opens above its ⋯ button; where the chat's visible area has no room for it there (a message near
 * the top, under the header or the stand-in's notice bar), below it; then the chat scrolls what is still
 * cut off into view. The chat's scroll area clips the menu, so no z-index could lift it over the bar. */
function placeMenu(toggle: HTMLElement, menu: HTMLElement): void {
  menu.classList.remove("menu--below");
  let view: HTMLElement | null = toggle.parentElement;
  while (view && !/(auto|scroll)/.test(getComputedStyle(view).overflowY)) view = view.parentElement;
  const bounds = (view ?? document.documentElement).getBoundingClientRect();
  const button = toggle.getBoundingClientRect();
  const room = { above: button.top - bounds.top, below: bounds.bottom - button.bottom };
  if (room.above < menu.offsetHeight + 8 && room.below > room.above) menu.classList.add("menu--below");
  menu.scrollIntoView({ block: "nearest" });
}

/** Close every open message menu (`refocus`: give focus back to its ⋯ button). */
function closeMenus(root: HTMLElement, refocus = false): void {
  for (const toggle of Array.from(root.querySelectorAll<HTMLButtonElement>("button[data-menu=toggle][aria-expanded=true]"))) {
    toggle.setAttribute("aria-expanded", "false");
    (toggle.nextElementSibling as HTMLElement).hidden = true;
    if (refocus) toggle.focus();
  }
}

/** The <ol> of messages, kept in step with a conversation. */
export class MessageList {
  readonly element: HTMLOListElement;
  private elements = new Map<string, HTMLLIElement>();
  private dirty = new Set<string>();

  constructor(onAction: (id: string, action: MessageAction, button: HTMLButtonElement) => void) {
    this.element = h("ol", { class: "messages", "aria-label": "Messages" });
    handleCopyClicks(this.element);
    // A menu closes on Esc (focus back on its button), on a click elsewhere; arrows move between items.
    this.element.addEventListener("keydown", (event) => {
      const menu = (event.target as HTMLElement).closest<HTMLElement>("[role=menu]");
      if (!menu) return;
      const items = Array.from(menu.querySelectorAll<HTMLElement>("[role=menuitem]"));
      const at = items.indexOf(event.target as HTMLElement);
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closeMenus(this.element, true);
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        items[(at + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length]?.focus();
      } else if (event.key === "Tab") closeMenus(this.element);
    });
    document.addEventListener("click", this.outside);
    this.element.addEventListener("click", (event) => {
      const version = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-version=toggle]");
      if (version) {
        const li = version.closest<HTMLLIElement>("li.msg")!;
        setExpanded(li, li.dataset.expanded !== "true");
        return;
      }
      const toggle = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-menu=toggle]");
      if (toggle) {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        closeMenus(this.element);
        if (open) openMenu(toggle);
        return;
      }
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
      if (!button) return;
      if (button.role === "menuitem") closeMenus(this.element, true);
      const li = button.closest<HTMLLIElement>("li.msg");
      const id = [...this.elements.entries()].find(([, el]) => el === li)?.[0];
      if (id) onAction(id, button.dataset.action as MessageAction, button);
    });
  }

  private outside = (event: Event): void => {
    if (!(event.target as HTMLElement).closest?.(".msg__menu")) closeMenus(this.element);
  };

  destroy(): void {
    document.removeEventListener("click", this.outside);
  }

  get pending(): boolean {
    return this.dirty.size > 0;
  }

  /** Create, place and remove elements as the changes say; mark what to render. */
  update(state: Conversation, changes: Changes): void {
    if (changes.reset) {
      this.elements.clear();
      this.dirty.clear();
      this.element.replaceChildren();
    }
    for (const id of changes.removed) {
      this.elements.get(id)?.remove();
      this.elements.delete(id);
      this.dirty.delete(id);
    }
    for (const id of changes.added) {
      const msg = state.messages.get(id);
      if (!msg || this.elements.has(id)) continue;
      const li = createElement(msg);
      const index = state.order.indexOf(id);
      let next: HTMLLIElement | undefined;
      for (let i = index + 1; i < state.order.length && !next; i += 1) next = this.elements.get(state.order[i]!);
      this.element.insertBefore(li, next ?? null);
      this.elements.set(id, li);
      this.dirty.add(id);
    }
    for (const id of changes.updated) if (this.elements.has(id)) this.dirty.add(id);
  }

  /** Show `card` right after the message `id` (e.g. Claude's memory change after its reply); the card is not part
   *  of the conversation's state, so a full reload drops it. Without that message, after the last one. */
  attachAfter(id: string | undefined, card: HTMLElement): void {
    const item = h("li", { class: "messages__card" }, card);
    const li = id ? this.elements.get(id) : undefined;
    this.element.insertBefore(item, li ? li.nextSibling : null);
  }

  /** The element of a message (when it is in the list). */
  elementOf(id: string): HTMLLIElement | undefined {
    return this.elements.get(id);
  }

  /** Open an earlier version of a reply (a search found it). */
  expand(id: string): void {
    const li = this.elements.get(id);
    if (li) setExpanded(li, true);
  }

  /** Render these messages again (their actions depend on what came after them). */
  touch(ids: Iterable<string>): void {
    for (const id of ids) if (this.elements.has(id)) this.dirty.add(id);
  }

  /** Render every marked message. */
  render(state: Conversation): void {
    for (const id of this.dirty) {
      const msg = state.messages.get(id);
      const li = this.elements.get(id);
      if (msg && li) renderMessage(li, state, msg);
    }
    this.dirty.clear();
  }
}
