// One session's conversation: history in pages, the live event stream, the composer.
//
// Streaming contract (see docs/ui.md): the view opens a session with GET /api/sessions/{id}, which gives
// the event log's head and epoch. When a turn is running it reads the log from 0 (the log of this server
// process holds every event of that turn, so the streamed text is rebuilt exactly), else from the head.
// Every event is applied once (the position only moves forward), messages are keyed by id (a
// message.complete replaces what was streamed), and `reset` (server restarted / position too old)
// reloads the history and continues from `next`.
import {
  api,
  ApiError,
  NetworkError,
  UNREACHABLE_STATUSES,
  type BluEvent,
  type MessageRecord,
  type SessionDetail,
  type SessionRecord,
  type ToolCall,
} from "./api";
import { announce, h } from "./dom";
import { formatCost, formatDuration, formatTime, formatTokens, randomId, sleep } from "./format";
import { icon } from "./icons";
import { handleCopyClicks, renderMarkdown } from "./markdown";

interface Msg extends MessageRecord {
  tools: Map<string, ToolCall>;
  /** Text rebuilt from message.delta events (valid only when the turn's start was seen). */
  live: string;
  liveValid: boolean;
  local?: { key: string; messageId?: string; failed?: string; position?: number };
}

interface Turn {
  turn_id: string;
  status: "queued" | "waiting" | "running" | "complete" | "interrupted" | "error";
  position?: number;
  max_clis?: number;
  message_id?: string;
  user_message_id?: string;
}

export interface ChatHost {
  sessionChanged(session: SessionRecord): void;
  sessionCreated(session: SessionRecord): void;
  artifactsChanged(): void;
  openSession(id: string): void;
  toast(text: string, kind?: "info" | "error"): void;
  maxMessageChars: number;
  /** Whether LiveKit is configured (`/api/config` voice): the microphone button works only then. */
  voice: boolean;
}

const VOICE_OFF = "Voice is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET in Blu's secret.";

const PAGE = 30;
const POLL_WAIT_SECONDS = 25;
const POLL_TIMEOUT_MS = 35_000;

function isUnreachable(error: unknown): boolean {
  return error instanceof NetworkError || (error instanceof ApiError && UNREACHABLE_STATUSES.has(error.status));
}

function toolTarget(summary: string): string {
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

const OUTCOME_LABEL: Record<ToolCall["outcome"], string> = {
  pending: "Running",
  ok: "Done",
  error: "Failed",
  denied: "Denied",
  stopped: "Stopped",
};

export class ChatView {
  readonly element: HTMLElement;
  sessionId: string | null;
  session: SessionRecord | null = null;

  private scroller: HTMLElement;
  private list: HTMLOListElement;
  private top: HTMLElement;
  private olderButton: HTMLButtonElement;
  private empty: HTMLElement;
  private status: HTMLElement;
  private textarea: HTMLTextAreaElement;
  private sendButton: HTMLButtonElement;
  private stopButton: HTMLButtonElement;
  private micButton: HTMLButtonElement;
  private voice: { close(): void } | null = null;

  private messages = new Map<string, Msg>();
  private order: string[] = [];
  private elements = new Map<string, HTMLLIElement>();
  private turns = new Map<string, Turn>();
  private dirty = new Set<string>();
  private frame = 0;

  private olderCursor: string | null = null;
  private loadingOlder = false;
  private loaded = false;
  private opening = false;
  private alive = true;
  private after = 0;
  private epoch: string | null = null;
  private generation = 0;
  private pollAbort: AbortController | null = null;
  private backoffAbort: AbortController | null = null;
  private reconnecting = false;
  private observer: IntersectionObserver | null = null;
  private wasBusy = false;
  private lastKick = 0;

  constructor(
    sessionId: string | null,
    private host: ChatHost,
  ) {
    this.sessionId = sessionId;
    this.olderButton = h("button", { type: "button", class: "link-button", onclick: () => void this.loadOlder() }, "Load earlier messages");
    this.top = h("div", { class: "chat__top" }, this.olderButton);
    this.list = h("ol", { class: "messages", "aria-label": "Messages" });
    this.empty = h(
      "div",
      { class: "chat__empty" },
      h("h2", null, "What can Blu do for you?"),
      h("p", null, "Ask a question, or have Blu write and edit files in its workspace. Answers stream in as they are written."),
    );
    this.scroller = h("div", { class: "chat__scroll", "data-testid": "chat-scroll" }, this.top, this.empty, this.list);
    this.status = h("div", { class: "chat__status", role: "status", "aria-live": "polite", "data-testid": "chat-status" });
    this.textarea = h("textarea", {
      id: "composer-input",
      class: "composer__input",
      rows: "1",
      placeholder: "Message Blu…",
      "aria-label": "Message",
      "aria-describedby": "composer-hint",
      dir: "auto",
      enterkeyhint: "send",
      autocomplete: "off",
    });
    this.sendButton = h("button", { type: "submit", class: "button button--primary composer__send", "aria-label": "Send message" }, "Send");
    this.stopButton = h(
      "button",
      { type: "button", class: "button button--danger composer__stop", hidden: true, "aria-label": "Stop the running turn", onclick: () => void this.stop() },
      "Stop",
    );
    this.micButton = h(
      "button",
      {
        type: "button",
        class: "button button--icon composer__mic",
        "aria-label": host.voice ? "Talk to Blu (voice mode)" : "Voice mode (not configured)",
        title: host.voice ? "Talk to Blu" : VOICE_OFF,
        "aria-disabled": host.voice ? null : "true",
        "data-testid": "voice-button",
        onclick: () => void this.startVoice(),
      },
      icon("mic", 20),
    );
    const hint = h("p", { id: "composer-hint", class: "composer__hint" }, "Enter sends · Shift+Enter adds a line");
    const form = h(
      "form",
      { class: "composer", "aria-label": "Send a message", onsubmit: (e: Event) => (e.preventDefault(), void this.submit()) },
      this.textarea,
      h("div", { class: "composer__buttons" }, this.micButton, this.stopButton, this.sendButton),
      hint,
    );
    this.element = h("section", { class: "chat", "aria-label": "Conversation" }, this.scroller, this.status, form);

    this.textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        void this.submit();
      }
    });
    this.textarea.addEventListener("input", () => this.autosize());
    handleCopyClicks(this.list);
    this.list.addEventListener("click", (event) => this.onListClick(event));
    this.top.hidden = true;
  }

  // -- lifecycle ---------------------------------------------------------------------------
  async open(): Promise<void> {
    if (!this.sessionId) {
      this.loaded = true;
      this.renderBusy();
      return;
    }
    if (this.opening) return;
    this.opening = true;
    this.status.textContent = "Loading…";
    try {
      const detail = await api.getSession(this.sessionId);
      if (!this.alive) return;
      this.applySessionDetail(detail);
      // A running turn: replay this process's log from its start, so the streamed text is rebuilt exactly.
      this.after = detail.running ? 0 : detail.events_head;
      this.epoch = detail.epoch;
      await this.loadNewest();
      this.loaded = true;
      this.status.textContent = "";
      this.startStream();
    } catch (error) {
      if (!this.alive) return;
      if (error instanceof ApiError && error.status === 404) {
        this.showMissing();
      } else if (!isUnreachable(error) && !(error instanceof ApiError && error.status === 401)) {
        this.status.textContent = `Couldn't load this session: ${(error as Error).message}`;
      } else {
        this.status.textContent = "Waiting for Blu…";
      }
    } finally {
      this.opening = false;
    }
  }

  /** After the connection came back: continue at once. */
  resume(): void {
    if (!this.alive) return;
    if (!this.loaded) {
      void this.open();
      return;
    }
    this.kick();
  }

  destroy(): void {
    this.voice?.close();
    this.alive = false;
    this.generation += 1;
    this.pollAbort?.abort();
    this.backoffAbort?.abort();
    this.observer?.disconnect();
    cancelAnimationFrame(this.frame);
    this.element.remove();
  }

  focusComposer(): void {
    this.textarea.focus();
  }

  /** Restart the long-poll now (tab became visible, network came back, Blu woke up). */
  kick(): void {
    if (!this.sessionId || !this.loaded) return;
    // At most one early restart every 2 s: a gateway that keeps failing while /health answers must
    // not turn wake-ups into a tight request loop (the poll loop's own backoff applies in between).
    const now = Date.now();
    if (now - this.lastKick < 2000) return;
    this.lastKick = now;
    this.backoffAbort?.abort();
    this.startStream();
  }

  private applySessionDetail(detail: SessionDetail | SessionRecord): void {
    this.session = detail;
    this.host.sessionChanged(detail);
  }

  private showMissing(): void {
    this.empty.replaceChildren(
      h("h2", null, "This session doesn't exist"),
      h("p", null, "It may have been deleted on another device. Pick another session or start a new one."),
    );
    this.empty.hidden = false;
    this.status.textContent = "";
    this.textarea.disabled = true;
    this.sendButton.disabled = true;
  }

  // -- history -----------------------------------------------------------------------------
  private resetMessages(): void {
    this.messages.clear();
    this.order = [];
    this.elements.clear();
    this.list.replaceChildren();
    this.dirty.clear();
  }

  private async loadNewest(): Promise<void> {
    if (!this.sessionId) return;
    const page = await api.messages(this.sessionId, { limit: PAGE });
    const locals = [...this.messages.values()].filter((m) => m.local && !m.local.messageId);
    this.resetMessages();
    for (const record of page.messages.reverse()) this.addMessage(this.fromRecord(record));
    for (const local of locals) this.addMessage(local);
    this.olderCursor = page.next;
    this.flush();
    this.scrollToBottom();
    this.setupOlderLoading();
  }

  private setupOlderLoading(): void {
    this.top.hidden = !this.olderCursor;
    this.top.classList.toggle("chat__top--start", !this.olderCursor && this.order.length > 0);
    if (this.observer || !("IntersectionObserver" in window)) return;
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting) && this.olderCursor && this.loaded) void this.loadOlder();
      },
      { root: this.scroller, rootMargin: "200px 0px 0px 0px" },
    );
    this.observer.observe(this.top);
  }

  async loadOlder(): Promise<void> {
    if (!this.sessionId || !this.olderCursor || this.loadingOlder) return;
    this.loadingOlder = true;
    this.olderButton.textContent = "Loading…";
    const sessionId = this.sessionId;
    try {
      const page = await api.messages(sessionId, { limit: PAGE, cursor: this.olderCursor });
      if (!this.alive || sessionId !== this.sessionId) return;
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      this.olderCursor = page.next;
      for (const record of page.messages) {
        if (!this.messages.has(record.id)) this.addMessage(this.fromRecord(record));
      }
      this.flush();
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
      this.top.hidden = !this.olderCursor;
    } catch {
      // shown by the overlay or retried on the next scroll
    } finally {
      this.loadingOlder = false;
      this.olderButton.textContent = "Load earlier messages";
    }
    // Still at the top with more to load (short pages): keep going.
    if (this.olderCursor && this.scroller.scrollTop < 50 && this.alive) window.setTimeout(() => void this.loadOlder(), 50);
  }

  private fromRecord(record: MessageRecord): Msg {
    return {
      ...record,
      tool_calls: record.tool_calls ?? [],
      tools: new Map((record.tool_calls ?? []).map((t) => [t.id, t])),
      live: "",
      liveValid: false,
    };
  }

  /** Messages older than the oldest loaded one arrive with paging, not from the stream. */
  private outsideWindow(id: string): boolean {
    if (!this.olderCursor) return false;
    const oldest = this.order.find((x) => !x.startsWith("~"));
    return oldest !== undefined && id < oldest;
  }

  private addMessage(msg: Msg): void {
    this.messages.set(msg.id, msg);
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.order[mid]! < msg.id) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, msg.id);
    const li = this.createElement(msg);
    const nextId = this.order[lo + 1];
    const next = nextId ? this.elements.get(nextId) : undefined;
    this.list.insertBefore(li, next ?? null);
    this.elements.set(msg.id, li);
    this.dirty.add(msg.id);
    this.empty.hidden = true;
  }

  private removeMessage(id: string): void {
    this.messages.delete(id);
    this.order = this.order.filter((x) => x !== id);
    this.elements.get(id)?.remove();
    this.elements.delete(id);
    this.dirty.delete(id);
  }

  private upsertRecord(record: MessageRecord): void {
    // A stored user message replaces the local copy shown while it was being sent.
    if (record.role === "user") {
      for (const m of this.messages.values()) {
        if (m.local && (m.local.messageId === record.id || (!m.local.messageId && m.text === record.text))) {
          this.removeMessage(m.id);
          break;
        }
      }
    }
    const existing = this.messages.get(record.id);
    if (!existing) {
      if (this.outsideWindow(record.id)) return;
      this.addMessage(this.fromRecord(record));
      return;
    }
    const tools = record.state === "running" ? new Map([...existing.tools, ...record.tool_calls.map((t) => [t.id, t] as const)]) : new Map(record.tool_calls.map((t) => [t.id, t]));
    Object.assign(existing, record, { tools });
    if (record.state !== "running") {
      existing.live = "";
      existing.liveValid = false;
    }
    this.dirty.add(existing.id);
  }

  // -- the event stream ----------------------------------------------------------------------
  private startStream(): void {
    this.generation += 1;
    this.pollAbort?.abort();
    void this.pollLoop(this.generation);
  }

  private async pollLoop(generation: number): Promise<void> {
    let failures = 0;
    while (this.alive && generation === this.generation && this.sessionId) {
      const controller = new AbortController();
      this.pollAbort = controller;
      const timer = window.setTimeout(() => controller.abort(), POLL_TIMEOUT_MS);
      const sessionId = this.sessionId;
      try {
        const page = await api.events(sessionId, this.after, this.epoch, failures ? 0 : POLL_WAIT_SECONDS, controller.signal);
        window.clearTimeout(timer);
        if (!this.alive || generation !== this.generation) return;
        failures = 0;
        this.setReconnecting(false);
        if (page.reset) {
          await this.reloadAfterReset(page.next, page.epoch);
          continue;
        }
        for (const event of page.events) {
          if (event.seq <= this.after) continue; // already applied
          this.apply(event);
          this.after = event.seq;
        }
        this.after = Math.max(this.after, page.next);
        this.epoch = page.epoch;
        this.scheduleFlush();
      } catch (error) {
        window.clearTimeout(timer);
        if (!this.alive || generation !== this.generation) return;
        if (error instanceof ApiError && error.status === 401) return; // the login screen takes over
        if (error instanceof ApiError && error.status === 404) return this.showMissing();
        const timedOut = controller.signal.aborted;
        failures += 1;
        if (!timedOut || failures > 1) this.setReconnecting(true);
        const delay = timedOut && failures === 1 ? 0 : Math.min(1000 * 2 ** (failures - 1), 10_000);
        this.backoffAbort = new AbortController();
        await sleep(delay, this.backoffAbort.signal);
        if (isUnreachable(error)) failures = Math.min(failures, 4);
      }
    }
  }

  private async reloadAfterReset(next: number, epoch: string): Promise<void> {
    // This server can't continue from our position (it restarted, or we were away too long):
    // reload what is stored, then continue from its head.
    this.after = next;
    this.epoch = epoch;
    this.turns.clear();
    if (!this.sessionId) return;
    try {
      const detail = await api.getSession(this.sessionId);
      this.applySessionDetail(detail);
      await this.loadNewest();
    } catch {
      // the next poll retries
    }
    this.renderBusy();
  }

  private setReconnecting(on: boolean): void {
    if (this.reconnecting === on) return;
    this.reconnecting = on;
    this.element.classList.toggle("chat--reconnecting", on);
    this.renderBusy();
  }

  private apply(event: BluEvent): void {
    const data = event.data as Record<string, any>;
    switch (event.type) {
      case "message.complete":
        this.upsertRecord(data.message as MessageRecord);
        break;
      case "message.delta": {
        const msg = this.messages.get(data.message_id);
        if (msg && msg.state === "running" && msg.liveValid) {
          msg.live += String(data.text ?? "");
          this.dirty.add(msg.id);
        }
        break;
      }
      case "tool.call":
      case "tool.result": {
        const msg = this.messages.get(data.message_id);
        if (msg && msg.state === "running") {
          const { turn_id: _t, message_id: _m, ...call } = data;
          msg.tools.set(call.id, call as ToolCall);
          this.dirty.add(msg.id);
        }
        break;
      }
      case "turn.status":
        this.applyTurn(data as Turn, event.at);
        break;
      case "session.updated":
        this.session = data.session as SessionRecord;
        this.host.sessionChanged(this.session);
        break;
      case "artifact.changed":
        this.host.artifactsChanged();
        break;
      case "error": {
        const turn = this.turns.get(data.turn_id);
        const msg = turn?.message_id ? this.messages.get(turn.message_id) : undefined;
        if (msg && !msg.error) {
          msg.error = String(data.message ?? "");
          this.dirty.add(msg.id);
        }
        break;
      }
      default:
        break;
    }
  }

  private applyTurn(data: Turn, at: number): void {
    const turn: Turn = { ...this.turns.get(data.turn_id), ...data };
    this.turns.set(data.turn_id, turn);
    if (data.status === "running" && data.message_id) {
      let msg = this.messages.get(data.message_id);
      if (!msg && !this.outsideWindow(data.message_id)) {
        const user = data.user_message_id ? this.messages.get(data.user_message_id) : undefined;
        msg = this.fromRecord({
          session_id: this.sessionId ?? "",
          id: data.message_id,
          role: "assistant",
          text: "",
          channel: user?.channel ?? "text",
          turn_id: data.turn_id,
          state: "running",
          created_at: at,
          tool_calls: [],
          input_tokens: 0,
          output_tokens: 0,
          cost_usd: 0,
          error: null,
          truncated: false,
        });
        this.addMessage(msg);
      }
      if (msg && msg.state === "running" && !msg.liveValid) {
        // From here on we see every delta of this message: rebuild its text from them.
        msg.live = "";
        msg.liveValid = true;
        this.dirty.add(msg.id);
      }
    }
    // Queue badges depend on every turn's state.
    for (const t of this.turns.values()) if (t.user_message_id && this.messages.has(t.user_message_id)) this.dirty.add(t.user_message_id);
    for (const m of this.messages.values()) if (m.local) this.dirty.add(m.id);
  }

  // -- rendering -----------------------------------------------------------------------------
  private scheduleFlush(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.flush();
    });
  }

  private flush(): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.dirty.size) {
      this.renderBusy();
      return;
    }
    const stick = this.nearBottom();
    for (const id of this.dirty) {
      const msg = this.messages.get(id);
      if (msg) this.renderMessage(msg);
    }
    this.dirty.clear();
    this.renderBusy();
    if (stick) this.scrollToBottom();
  }

  private nearBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  private scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  private createElement(msg: Msg): HTMLLIElement {
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

  private turnOf(msg: Msg): Turn | undefined {
    const userId = msg.local?.messageId ?? msg.id;
    return [...this.turns.values()].find((t) => t.user_message_id === userId);
  }

  private queuedAhead(msg: Msg): number | null {
    const userId = msg.local?.messageId ?? msg.id;
    const turn = [...this.turns.values()].find((t) => t.user_message_id === userId);
    if (!turn) return msg.local && msg.local.position ? msg.local.position : null;
    if (turn.status !== "queued") return null;
    let ahead = 0;
    for (const t of this.turns.values()) {
      if (t === turn) continue;
      if (t.status === "running") ahead += 1;
      else if (t.status === "queued" && (t.user_message_id ?? "") < userId) ahead += 1;
    }
    return ahead;
  }

  private renderMessage(msg: Msg): void {
    const li = this.elements.get(msg.id);
    if (!li) return;
    const q = <T extends Element>(sel: string) => li.querySelector(sel) as T;
    li.dataset.id = msg.local ? "" : msg.id;
    li.dataset.state = msg.local?.failed ? "failed" : msg.local && !msg.local.messageId ? "sending" : msg.state;
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

    // State badge: what happened to this message.
    const badge = q<HTMLElement>(".msg__badge");
    let badgeText = "";
    let badgeKind = "";
    if (msg.local?.failed) [badgeText, badgeKind] = ["Not sent", "error"];
    else if (msg.local && !msg.local.messageId) [badgeText, badgeKind] = ["Sending…", "muted"];
    else if (msg.role === "user") {
      const ahead = this.queuedAhead(msg);
      if (ahead !== null) [badgeText, badgeKind] = [ahead > 0 ? `Queued · ${ahead} ahead` : "Queued · next", "muted"];
      else if (this.turnOf(msg)?.status === "waiting") [badgeText, badgeKind] = ["Waiting for a free Claude process", "muted"];
    } else if (msg.state === "running") [badgeText, badgeKind] = ["Answering…", "live"];
    else if (msg.state === "interrupted") [badgeText, badgeKind] = ["Interrupted", "warn"];
    else if (msg.state === "error") [badgeText, badgeKind] = ["Failed", "error"];
    badge.textContent = badgeText;
    badge.className = `msg__badge${badgeKind ? ` badge badge--${badgeKind}` : ""}`;

    // Tool cards, updated in place so an opened card stays open.
    const tools = q<HTMLElement>(".msg__tools");
    for (const call of msg.tools.values()) this.renderTool(tools, call);
    for (const card of Array.from(tools.children) as HTMLElement[]) {
      if (!msg.tools.has(card.dataset.toolId ?? "")) card.remove();
    }

    const body = q<HTMLElement>(".msg__body");
    const text = msg.state === "running" && msg.liveValid ? msg.live : msg.text;
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
      actions.append(
        h("button", { type: "button", class: "link-button", "data-action": "full-text" }, "Shortened here · Show the whole message"),
      );
    }
    if (msg.local?.failed) {
      actions.append(h("button", { type: "button", class: "link-button", "data-action": "retry" }, "Send again"));
    } else if (!msg.local && msg.state !== "running") {
      if (msg.role === "assistant" && (msg.state === "interrupted" || msg.state === "error") && this.promptOf(msg)) {
        actions.append(
          h("button", { type: "button", class: "link-button", "data-action": "retry-turn", "aria-label": "Retry: send the same message again" }, "Retry"),
        );
      }
      actions.append(
        h(
          "button",
          { type: "button", class: "link-button", "data-action": "fork", "aria-label": `Fork a new session from this message (${formatTime(msg.created_at)})` },
          "Fork from here",
        ),
      );
    }
  }

  private renderTool(container: HTMLElement, call: ToolCall): void {
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

  private renderBusy(): void {
    const turns = [...this.turns.values()];
    const running = turns.some((t) => t.status === "running") || [...this.messages.values()].some((m) => m.state === "running" && !m.local);
    const queued = turns.filter((t) => t.status === "queued").length;
    const waiting = turns.find((t) => t.status === "waiting");
    const busy = running || queued > 0 || !!waiting;
    this.stopButton.hidden = !running && !waiting;
    this.element.classList.toggle("chat--busy", busy);
    let text = "";
    // No promise about the running reply: after a restart it is saved as interrupted, with Retry.
    if (this.reconnecting) text = "Reconnecting to Blu…";
    else if (waiting && !running)
      text = `Waiting for a free Claude process (this Blu runs ${waiting.max_clis ?? "a few"} at a time)…`;
    else if (running && queued) text = `Blu is answering · ${queued} more queued`;
    else if (running) text = "Blu is answering…";
    else if (queued) text = `${queued} message${queued > 1 ? "s" : ""} queued`;
    if (this.loaded && this.status.textContent !== text) this.status.textContent = text;
    this.status.dataset.state = this.reconnecting ? "reconnecting" : running ? "running" : waiting ? "waiting" : queued ? "queued" : "idle";
    if (this.wasBusy && !busy) announce("Blu finished answering.");
    this.wasBusy = busy;
    this.empty.hidden = this.order.length > 0 || !this.loaded;
  }

  // -- actions -------------------------------------------------------------------------------
  private autosize(): void {
    const t = this.textarea;
    t.style.height = "auto";
    t.style.height = `${Math.min(t.scrollHeight, 220)}px`;
  }

  private async submit(): Promise<void> {
    const text = this.textarea.value;
    if (!text.trim()) return;
    // Characters as the server counts them (code points; an emoji is one, not two UTF-16 units).
    if ([...text].length > this.host.maxMessageChars) {
      this.host.toast(`The message is longer than ${this.host.maxMessageChars} characters.`, "error");
      return;
    }
    this.textarea.value = "";
    this.autosize();
    await this.sendText(text);
  }

  /** The person's message a reply answers (same turn), when it is loaded. */
  private promptOf(reply: Msg): Msg | undefined {
    if (!reply.turn_id) return undefined;
    for (const m of this.messages.values()) if (m.role === "user" && !m.local && m.turn_id === reply.turn_id) return m;
    return undefined;
  }

  /** Show the person's message at once, then post it (a new turn, with its own Idempotency-Key). */
  private async sendText(text: string): Promise<void> {
    const key = randomId();
    const local = this.fromRecord({
      session_id: this.sessionId ?? "",
      id: `~${Date.now()}-${key}`,
      role: "user",
      text,
      channel: "text",
      turn_id: null,
      state: "complete",
      created_at: Date.now() / 1000,
      tool_calls: [],
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      error: null,
      truncated: false,
    });
    local.local = { key };
    this.addMessage(local);
    this.flush();
    this.scrollToBottom();
    if (!this.sessionId) {
      try {
        await this.createSession();
      } catch (error) {
        local.local.failed = `Couldn't start a session: ${(error as Error).message}`;
        this.dirty.add(local.id);
        this.flush();
        return;
      }
    }
    await this.post(local);
  }

  private async createSession(): Promise<void> {
    const created = await api.createSession();
    this.sessionId = created.id;
    this.session = created.session;
    this.after = 0;
    this.epoch = null;
    this.loaded = true;
    this.host.sessionCreated(created.session);
    this.startStream();
    this.setupOlderLoading();
  }

  /** Voice mode (loaded on demand). What is said arrives in this chat through the event stream, as voice messages. */
  private async startVoice(): Promise<void> {
    if (!this.host.voice) {
      this.host.toast(VOICE_OFF, "error");
      return;
    }
    if (this.voice) return;
    this.voice = { close: () => undefined };
    try {
      if (!this.sessionId) await this.createSession();
      const { openVoiceMode } = await import("./voice/mode");
      if (!this.alive || !this.sessionId) {
        this.voice = null;
        return;
      }
      this.voice = openVoiceMode({
        sessionId: this.sessionId,
        onClose: () => {
          this.voice = null;
          this.kick();
          this.micButton.focus();
        },
      });
    } catch (error) {
      this.voice = null;
      this.host.toast(`Couldn't open voice mode: ${(error as Error).message}`, "error");
    }
  }

  private async post(msg: Msg): Promise<void> {
    if (!this.sessionId || !msg.local) return;
    const sessionId = this.sessionId;
    msg.local.failed = undefined;
    this.dirty.add(msg.id);
    this.scheduleFlush();
    for (let attempt = 0; ; attempt += 1) {
      try {
        // The same Idempotency-Key on every retry: a POST that reached the server never runs twice.
        const result = await api.send(sessionId, msg.text, msg.local.key);
        if (!this.alive) return;
        if (this.messages.has(result.message_id) || !this.messages.has(msg.id)) {
          this.removeMessage(msg.id);
        } else {
          msg.local.messageId = result.message_id;
          msg.local.position = result.position;
          msg.turn_id = result.turn_id;
          this.dirty.add(msg.id);
        }
        this.scheduleFlush();
        return;
      } catch (error) {
        if (!this.alive) return;
        if (error instanceof ApiError && error.status === 401) {
          msg.local.failed = "Log in again, then send it again.";
        } else if (isUnreachable(error) && attempt < 8) {
          await sleep(Math.min(1000 * 2 ** attempt, 10_000));
          continue;
        } else {
          msg.local.failed = (error as Error).message || "Not sent.";
        }
        this.dirty.add(msg.id);
        this.scheduleFlush();
        return;
      }
    }
  }

  private async stop(): Promise<void> {
    if (!this.sessionId) return;
    this.stopButton.disabled = true;
    try {
      const result = await api.interrupt(this.sessionId);
      if (!result.interrupted) this.host.toast("Nothing was running.");
      else announce("Stopping the turn.");
    } catch (error) {
      this.host.toast(`Couldn't stop: ${(error as Error).message}`, "error");
    } finally {
      this.stopButton.disabled = false;
    }
  }

  private onListClick(event: MouseEvent): void {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
    if (!button) return;
    const li = button.closest<HTMLLIElement>("li.msg");
    const id = [...this.elements.entries()].find(([, el]) => el === li)?.[0];
    const msg = id ? this.messages.get(id) : undefined;
    if (!msg) return;
    if (button.dataset.action === "retry") void this.post(msg);
    if (button.dataset.action === "retry-turn") {
      const prompt = this.promptOf(msg);
      if (prompt) void this.sendText(prompt.text);
    }
    if (button.dataset.action === "fork") void this.fork(msg, button);
    if (button.dataset.action === "full-text") void this.showWhole(msg, button);
  }

  private async showWhole(msg: Msg, button: HTMLButtonElement): Promise<void> {
    if (!this.sessionId) return;
    button.disabled = true;
    try {
      const whole = await api.messageText(this.sessionId, msg.id);
      msg.text = whole.text;
      msg.truncated = false;
      this.dirty.add(msg.id);
      this.scheduleFlush();
    } catch (error) {
      this.host.toast(`Couldn't load the whole message: ${(error as Error).message}`, "error");
      button.disabled = false;
    }
  }

  private async fork(msg: Msg, button: HTMLButtonElement): Promise<void> {
    if (!this.sessionId) return;
    button.disabled = true;
    try {
      const result = await api.fork(this.sessionId, msg.id);
      this.host.toast("Forked into a new session.");
      this.host.openSession(result.id);
    } catch (error) {
      this.host.toast(`Couldn't fork: ${(error as Error).message}`, "error");
      button.disabled = false;
    }
  }
}
