// The header's context meter: how much of Claude's context window the session's last turn used
// (`context_tokens` over `context_window`, kept by the runtime), warning from 80 % with two ways out:
// Claude Code's own `/compact`, or a new session that starts from a short hand-off note.
import { api, type MessageRecord, type SessionRecord } from "./api";
import { h } from "./dom";
import { formatTokens, randomId } from "./format";

export const CONTEXT_WARNING = 0.8;
const QUOTE_CHARS = 400;

export interface ContextMeterOptions {
  toast(text: string, kind?: "info" | "error"): void;
  openSession(id: string): void;
}

/** The share of the window in use, 0–1 (more when over), or null before a turn reported it. */
export function contextShare(session: Pick<SessionRecord, "context_tokens" | "context_window"> | null): number | null {
  if (!session || session.context_tokens == null || !session.context_window) return null;
  return session.context_tokens / session.context_window;
}

function quote(text: string, limit = QUOTE_CHARS): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > limit ? `${flat.slice(0, limit).trimEnd()}…` : flat;
}

/** The first message of the continuing session: the old one's name, where it stood (the last message
 * the person sent and the start of the last reply, as they were; no model call) and a link back. */
export function handoffNote(session: Pick<SessionRecord, "id" | "name">, messages: readonly MessageRecord[], origin: string): string {
  const lastUser = [...messages].reverse().find((m) => m.role === "user" && m.text.trim());
  const lastReply = [...messages].reverse().find((m) => m.role === "assistant" && m.text.trim());
  const lines = [
    `This continues the session “${session.name || "Untitled"}” (${origin}/#/s/${session.id}), whose context was nearly full.`,
    "",
    "Where it stood:",
  ];
  if (lastUser) lines.push(`- My last message: “${quote(lastUser.text)}”`);
  if (lastReply) lines.push(`- Your last reply began: “${quote(lastReply.text)}”`);
  if (!lastUser && !lastReply) lines.push("- (no messages)");
  lines.push("", "Carry on from there; ask me if something from the earlier session is missing.");
  return lines.join("\n");
}

export class ContextMeter {
  readonly element: HTMLElement;
  private readonly figure = h("span", { class: "context-meter__figure", "data-testid": "context-meter" });
  private readonly actions = h("span", { class: "context-meter__actions", hidden: true });
  private session: SessionRecord | null = null;

  constructor(private readonly options: ContextMeterOptions) {
    const compact = h(
      "button",
      { type: "button", class: "link-button", "data-testid": "context-compact", onclick: () => void this.compact() },
      "Compact",
    );
    const handoff = h(
      "button",
      { type: "button", class: "link-button", "data-testid": "context-continue", onclick: () => void this.continueElsewhere() },
      "Continue in a new session",
    );
    this.actions.append(compact, handoff);
    this.element = h("p", { class: "context-meter", hidden: true }, this.figure, this.actions);
  }

  update(session: SessionRecord | null): void {
    this.session = session;
    const share = contextShare(session);
    this.element.hidden = share === null;
    if (share === null || !session) return;
    const warn = share >= CONTEXT_WARNING;
    this.figure.textContent = `Context ${Math.round(share * 100)}%`;
    this.figure.title = `${formatTokens(session.context_tokens ?? 0)} of ${formatTokens(session.context_window ?? 0)} tokens in Claude's context (${session.context_model ?? "model unknown"}), as sent with the last request`;
    this.element.classList.toggle("context-meter--warn", warn);
    this.actions.hidden = !warn;
  }

  /** Claude Code's own compaction: `/compact` as the session's next message. */
  private async compact(): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      await api.send(session.id, "/compact", randomId());
      this.options.toast("Compacting: Claude Code summarises the conversation so far.");
    } catch (error) {
      this.options.toast(`Couldn't compact: ${(error as Error).message}`, "error");
    }
  }

  private async continueElsewhere(): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      const page = await api.messages(session.id, { limit: 20 });
      const note = handoffNote(session, [...page.messages].reverse(), window.location.origin);
      const created = await api.createSession();
      await api.send(created.id, note, randomId());
      this.options.openSession(created.id);
    } catch (error) {
      this.options.toast(`Couldn't start the new session: ${(error as Error).message}`, "error");
    }
  }
}
