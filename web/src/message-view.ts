// The message list's DOM: one <li> per message of the conversation, created, moved and removed as
// `Changes` say (conversation.ts), and rendered again only when marked. Tool cards are updated in place,
// so an opened card stays open. Actions (Send again, Retry, Fork from here, Show the whole message) are
// buttons with `data-action`; the chat handles their clicks.
import type { ToolCall } from "./api";
import { renderAttachments } from "./attachments";
import {
  canFork,
  canRetry,
  deliveryState,
  queuedAhead,
  shownText,
  turnOf,
  type Changes,
  type Conversation,
  type Message,
} from "./conversation";
import { h } from "./dom";
import { formatCost, formatDuration, formatTime, formatTokens } from "./format";
import { icon } from "./icons";
import { handleCopyClicks, renderMarkdown } from "./markdown";

export type MessageAction = "retry" | "retry-turn" | "fork" | "full-text";

const OUTCOME_LABEL: Record<ToolCall["outcome"], string> = {
  pending: "Running",
  ok: "Done",
  error: "Failed",
  denied: "Denied",
  stopped: "Stopped",
};

/** What a tool worked on, from its input summary: a path, a command, a pattern… (at most 80 characters). */
export function toolTarget(summary: string): string {
  try {
    const input = JSON.parse(summary) as Record<string, unknown>;
    for (const key of ["file_path", "path", "command", "pattern", "url", "query", "description"]) {
      const value = input[key];
      if (typeof value === "string" && value) return value.length > 80 ? `${value.slice(0, 77)}…` : value;
    }
  } catch {
    // not JSON: show the start of the text
  }
  return summary.length > 80 ? `${summary.slice(0, 77)}…` : summary;
}

function createElement(msg: Message): HTMLLIElement {
  const who = msg.role === "user" ? "You" : msg.role === "assistant" ? "Blu" : "System";
  const li = h("li", { class: `msg msg--${msg.role}`, "data-role": msg.role });
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
    ),
    h("div", { class: "msg__tools" }),
    // dir=auto: right-to-left text (Arabic, Hebrew) runs and punctuates the way it is written.
    h("div", { class: msg.role === "assistant" ? "msg__body markdown" : "msg__body msg__body--plain", dir: "auto" }),
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
    if (turnOf(state, msg)?.status === "waiting") return ["Waiting for a free Claude process", "muted"];
    return ["", ""];
  }
  if (msg.state === "running") return ["Answering…", "live"];
  if (msg.state === "interrupted") return ["Interrupted", "warn"];
  if (msg.state === "error") return ["Failed", "error"];
  return ["", ""];
}

function renderTool(container: HTMLElement, call: ToolCall): void {
  let card = container.querySelector<HTMLDetailsElement>(`details[data-tool-id="${CSS.escape(call.id)}"]`);
  if (!card) {
    card = h(
      "details",
      { class: "tool", "data-tool-id": call.id },
      h(
        "summary",
        { class: "tool__summary" },
        h("span", { class: "tool__name" }),
        h("span", { class: "tool__target" }),
        h("span", { class: "tool__outcome" }),
        h("span", { class: "tool__duration" }),
      ),
      h("div", { class: "tool__body" }, h("h4", null, "Input"), h("pre", { class: "tool__input", dir: "auto" }), h("h4", { class: "tool__result-label" }, "Result"), h("pre", { class: "tool__result", dir: "auto" })),
    );
    container.append(card);
  }
  card.dataset.outcome = call.outcome;
  (card.querySelector(".tool__name") as HTMLElement).textContent = call.name;
  (card.querySelector(".tool__target") as HTMLElement).textContent = toolTarget(call.input_summary);
  const outcome = card.querySelector(".tool__outcome") as HTMLElement;
  outcome.textContent = OUTCOME_LABEL[call.outcome] ?? call.outcome;
  outcome.className = `tool__outcome badge badge--${call.outcome === "ok" ? "ok" : call.outcome === "pending" ? "live" : "error"}`;
  (card.querySelector(".tool__duration") as HTMLElement).textContent = formatDuration(call.duration_ms);
  (card.querySelector(".tool__input") as HTMLElement).textContent = call.input_summary;
  const result = card.querySelector(".tool__result") as HTMLElement;
  result.textContent = call.result_summary || (call.outcome === "pending" ? "Waiting for the result…" : "(no output)");
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

  const tools = q<HTMLElement>(".msg__tools");
  for (const call of msg.tool_calls) renderTool(tools, call);
  const ids = new Set(msg.tool_calls.map((c) => c.id));
  for (const card of Array.from(tools.children) as HTMLElement[]) {
    if (!ids.has(card.dataset.toolId ?? "")) card.remove();
  }

  renderAttachments(q<HTMLElement>("article"), msg.attachments);
  const body = q<HTMLElement>(".msg__body");
  const text = shownText(msg);
  if (body.dataset.rendered !== text) {
    body.dataset.rendered = text;
    if (msg.role === "assistant") renderMarkdown(body, text);
    else body.textContent = text;
  }
  body.hidden = !text && msg.state !== "running";

  const error = q<HTMLElement>(".msg__error");
  const errorText = msg.local?.failed ?? msg.error ?? "";
  error.textContent = errorText;
  error.hidden = !errorText;

  const usage = q<HTMLElement>(".msg__usage");
  usage.textContent =
    msg.role === "assistant" && (msg.input_tokens || msg.output_tokens)
      ? `${formatTokens(msg.input_tokens)} in · ${formatTokens(msg.output_tokens)} out · ${formatCost(msg.cost_usd)}`
      : "";

  const actions = q<HTMLElement>(".msg__actions");
  actions.replaceChildren();
  if (msg.truncated && !msg.local && msg.state !== "running") {
    // The record holds the text cut; the whole text is kept and one click away.
    actions.append(h("button", { type: "button", class: "link-button", "data-action": "full-text" }, "Shortened here · Show the whole message"));
  }
  if (msg.local?.failed) {
    actions.append(h("button", { type: "button", class: "link-button", "data-action": "retry" }, "Send again"));
  }
  if (canRetry(state, msg)) {
    actions.append(h("button", { type: "button", class: "link-button", "data-action": "retry-turn", "aria-label": "Retry: send the same message again" }, "Retry"));
  }
  if (canFork(msg)) {
    actions.append(
      h(
        "button",
        { type: "button", class: "link-button", "data-action": "fork", "aria-label": `Fork a new session from this message (${formatTime(msg.created_at)})` },
        "Fork from here",
      ),
    );
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
    this.element.addEventListener("click", (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
      if (!button) return;
      const li = button.closest<HTMLLIElement>("li.msg");
      const id = [...this.elements.entries()].find(([, el]) => el === li)?.[0];
      if (id) onAction(id, button.dataset.action as MessageAction, button);
    });
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
