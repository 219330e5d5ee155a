// One session's chat: it opens the session, loads history in pages, follows the event stream and sends
// what the person writes. The parts:
//   stream.ts        the long-poll of the session's events (cursor, back-off, restarts); no DOM
//   conversation.ts  the conversation as data: apply an event, get the new state and what changed
//   message-view.ts  the message list's DOM, rendered from the conversation
//   composer.ts      the message box with Send, Stop and the microphone
// This file wires them together and does what needs the API: history pages, sending (with retries under
// one Idempotency-Key), Stop, Retry, Regenerate, Fork from here, the whole text of a shortened message, voice mode.
//
// Streaming contract (see docs/ui.md): the view opens a session with GET /api/sessions/{id}, which gives
// the event log's head and epoch. When a turn is running it reads the log from 0 (the log of this server
// process holds every event of that turn, so the streamed text is rebuilt exactly), else from the head.
// `reset` (server restarted / position too old) reloads the history and continues from `next`.
import { api, ApiError, type ListedSession, type SessionDetail, type SessionRecord } from "./api";
import { chatApi } from "./api-chat";
import { type AttachmentTray, missingFiles, missingIn, shownName } from "./attachments";
import { Composer, VOICE_OFF } from "./composer";
import {
  activity,
  addLocal,
  addOlder,
  applyEvent,
  applyRecord,
  approvalsLoaded,
  branchPoint,
  cancellableTurn,
  emptyConversation,
  isEarlierVersion,
  lastOwnMessage,
  markdownOf,
  forgetTurns,
  loadHistory,
  promptOf,
  replaceText,
  retryOf,
  sendAccepted,
  sendFailed,
  sendStarted,
  setSession,
  type Conversation,
  type Message,
  type Step,
} from "./conversation";
import { announce, h } from "./dom";
import { carryDraft, type DraftFiles, keepUnsent, loadDraft, loadDraftFiles, saveDraft, saveDraftFiles } from "./drafts";
import { randomId, sleep } from "./format";
import { MessageList, type MessageAction } from "./message-view";
import { type MemoryChange, memoryChangeCard } from "./memory";
import { matchRanges } from "./search-text";
import { ApprovalPanel } from "./approvals";
import { EventStream, isUnreachable } from "./stream";

export interface ChatHost {
  sessionChanged(session: ListedSession): void;
  /** The open session was deleted elsewhere (`session.deleted`, or its stream answers 404), or a restore left
   * it out (`why`: what the notice says instead of "deleted"). */
  sessionDeleted(id: string, why?: string): void;
  sessionCreated(session: SessionRecord): void;
  artifactsChanged(): void;
  openSession(id: string): void;
  toast(text: string, kind?: "info" | "error"): void;
  /** Open the Memory dialog (from a memory-change card). */
  openMemory?(): void;
  /** Claude changed the memory in this session's turn (`memory.changed`): an open Memory dialog re-reads it. */
  memoryChanged?(): void;
  maxMessageChars: number;
  /** Whether LiveKit is configured (`/api/config` voice): the microphone button works only then. */
  voice: boolean;
  /** The composer's attachments (web/src/attachments.ts). */
  attachments?: AttachmentTray;
}

const PAGE = 30;
const RESTORED_AWAY = "This session is not in the restored snapshot.";

export class ChatView {
  readonly element: HTMLElement;
  sessionId: string | null;
  session: ListedSession | null = null;

  private scroller: HTMLElement;
  private list: MessageList;
  private top: HTMLElement;
  private origin: HTMLElement;
  private olderButton: HTMLButtonElement;
  private empty: HTMLElement;
  private status: HTMLElement;
  private composer: Composer;
  private voice: { close(): void } | null = null;
  private approvals: ApprovalPanel;

  private conversation: Conversation;
  private stream: EventStream | null = null;
  private frame = 0;

  private loadingOlder = false;
  private loaded = false;
  private opening = false;
  private alive = true;
  private reconnecting = false;
  private observer: IntersectionObserver | null = null;
  private wasBusy = false;
  /** The person's message being edited in the composer (sending it starts a branch). */
  private editing: Message | null = null;
  private opened: Promise<void>;
  private markOpened: () => void = () => undefined;

  constructor(
    sessionId: string | null,
    private host: ChatHost,
  ) {
    this.sessionId = sessionId;
    this.conversation = emptyConversation(sessionId);
    this.opened = new Promise((resolve) => (this.markOpened = resolve));
    this.olderButton = h("button", { type: "button", class: "link-button", onclick: () => void this.loadOlder() }, "Load earlier messages");
    this.top = h("div", { class: "chat__top" }, this.olderButton);
    this.origin = h("p", { class: "chat__origin", hidden: true, "data-testid": "branch-origin" });
    this.list = new MessageList((id, action, button) => this.onAction(id, action, button));
    this.empty = h(
      "div",
      { class: "chat__empty" },
      h("h2", null, "What can Blu do for you?"),
      h("p", null, "Ask a question, or have Blu write and edit files in its workspace. Answers stream in as they are written."),
    );
    this.scroller = h("div", { class: "chat__scroll", "data-testid": "chat-scroll" }, this.origin, this.top, this.empty, this.list.element);
    this.status = h("div", { class: "chat__status", role: "status", "aria-live": "polite", "data-testid": "chat-status" });
    this.composer = new Composer({
      send: async (text) => void this.sendText(text, await host.attachments?.take()),
      stop: () => void this.stop(),
      voice: () => void this.startVoice(),
      voiceEnabled: host.voice,
      maxChars: host.maxMessageChars,
      refuse: (text) => host.toast(text, "error"),
      editLast: () => {
        const last = lastOwnMessage(this.conversation);
        if (last) this.startEdit(last);
        return !!last;
      },
      cancelEdit: () => (this.editing = null),
      // The draft follows the session this view shows (a new chat's becomes its session's once created).
      draft: { load: () => loadDraft(this.sessionId), save: (text) => saveDraft(this.sessionId, text) },
    });
    this.approvals = new ApprovalPanel({
      pendingChanged: (n) => {
        if (this.session && n !== (this.session.pending_approvals ?? 0))
          host.sessionChanged((this.session = { ...this.session, pending_approvals: n }));
      },
      toast: (text, kind) => host.toast(text, kind),
    });
    host.attachments?.attachTo(this.composer.element, {
      load: () => loadDraftFiles(this.sessionId),
      save: (files) => saveDraftFiles(this.sessionId, files),
    });
    this.element = h("section", { class: "chat", "aria-label": "Conversation" }, this.scroller, this.approvals.element, this.status, this.composer.element);
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
      await this.loadNewest();
      this.loaded = true;
      this.markOpened();
      this.status.textContent = "";
      // A running turn: replay this process's log from its start, so the streamed text is rebuilt exactly.
      this.startStream(this.sessionId, detail.running ? 0 : detail.events_head, detail.epoch);
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
    this.list.destroy();
    this.alive = false;
    this.stream?.stop();
    this.observer?.disconnect();
    cancelAnimationFrame(this.frame);
    this.element.remove();
  }

  focusComposer(): void {
    this.composer.focus();
  }

  /** Scroll to a message (a search hit), loading older pages until it is there, and mark the words found. */
  async reveal(messageId: string, terms: readonly string[]): Promise<void> {
    await this.opened;
    const sessionId = this.sessionId;
    for (let i = 0; i < 200 && sessionId && !this.conversation.messages.has(messageId) && this.conversation.olderCursor; i += 1) {
      const page = await api.messages(sessionId, { limit: 100, cursor: this.conversation.olderCursor });
      if (!this.alive || sessionId !== this.sessionId) return;
      this.commit(addOlder(this.conversation, page));
    }
    this.flush();
    this.top.hidden = !this.conversation.olderCursor;
    const li = this.list.elementOf(messageId);
    if (!li) {
      this.host.toast("That message is no longer in this session.", "error");
      return;
    }
    const found = this.conversation.messages.get(messageId);
    if (found && isEarlierVersion(found)) this.list.expand(messageId);
    for (const text of Array.from(li.querySelectorAll<HTMLElement>(".msg__text"))) markWords(text, terms);
    li.classList.add("msg--found");
    li.scrollIntoView({ block: "center" });
    window.setTimeout(() => li.classList.remove("msg--found"), 4000);
  }

  /** Esc: stop the running turn (true when there was one to stop). */
  stopRunning(): boolean {
    const { running, waiting } = activity(this.conversation);
    if (!this.sessionId || !(running || waiting)) return false;
    void this.stop();
    return true;
  }

  /** Restart the long-poll now (tab became visible, network came back, Blu woke up). */
  kick(): void {
    if (!this.sessionId || !this.loaded) return;
    this.stream?.kick();
  }

  private startStream(sessionId: string, after: number, epoch: string | null): void {
    this.stream?.stop();
    this.stream = new EventStream({
      sessionId,
      after,
      epoch,
      handlers: {
        event: (event) => {
          if (event.type === "session.deleted") return this.deleted(sessionId, "", event.data.reason === "restore" ? RESTORED_AWAY : undefined);
          this.approvals.onEvent(event);
          this.commit(applyEvent(this.conversation, event));
          if (event.type === "memory.changed") {
            this.showMemoryChange(event.data);
            this.host.memoryChanged?.();
          }
        },
        page: () => this.scheduleFlush(),
        reset: () => this.reloadAfterReset(),
        reconnecting: (on) => this.setReconnecting(on),
        missing: () => this.deleted(sessionId),
      },
    });
    this.stream.start();
  }

  /** Claude changed its memory in a turn: a card with the diff and Revert after that turn's reply. */
  private showMemoryChange(change: MemoryChange): void {
    const turn = change.turn_id ? this.conversation.turns.get(change.turn_id) : undefined;
    const replyId = turn && "message_id" in turn ? turn.message_id : undefined;
    this.list.attachAfter(replyId, memoryChangeCard(change, { toast: (text, kind) => this.host.toast(text, kind), openMemory: this.host.openMemory }));
  }

  private applySessionDetail(detail: SessionDetail | SessionRecord): void {
    this.session = detail;
    this.host.sessionChanged(detail);
    this.renderOrigin();
  }

  /** A branch (a fork, an edited message) links back to the session it came from. */
  private renderOrigin(): void {
    const from = this.session?.forked_from;
    this.origin.hidden = !from;
    if (from && this.origin.dataset.from !== from) {
      this.origin.dataset.from = from;
      this.origin.replaceChildren(
        "Branched from an earlier session · ",
        h("a", { href: `#/s/${from}`, class: "chat__origin-link" }, "Open the original"),
      );
    }
  }

  /** Deleted while open here (in another tab or device), or gone when sending (a backup restored elsewhere):
   * stop following it and let the host leave it. What was typed and not sent (`unsent` with its `files`, the
   * box's draft) becomes the new chat's draft. */
  private deleted(sessionId: string, unsent = "", why?: string, files: DraftFiles = {}): void {
    if (!this.alive) return;
    carryDraft(sessionId, unsent, files);
    this.stream?.stop();
    this.showMissing();
    this.host.sessionDeleted(sessionId, why);
  }

  /** The store was replaced (a restore from this page): the open session is gone, and left as a deleted one
   * is, or it is read again as restored (its messages may differ: the stream is told to start over). */
  async restored(): Promise<void> {
    const sessionId = this.sessionId;
    if (!sessionId || !this.alive) return;
    try {
      await api.getSession(sessionId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.deleted(sessionId, "", RESTORED_AWAY);
      return;
    }
    await this.reloadAfterReset();
    this.host.artifactsChanged();
    this.kick();
  }

  private showMissing(): void {
    this.empty.replaceChildren(
      h("h2", null, "This session doesn't exist"),
      h("p", null, "It may have been deleted on another device. Pick another session or start a new one."),
    );
    this.empty.hidden = false;
    this.status.textContent = "";
    this.composer.disable();
  }

  /** Take a new conversation state and apply what changed to the page (rendering waits for a flush). */
  private commit(step: Step): void {
    this.conversation = step.state;
    const { changes } = step;
    this.list.update(step.state, changes);
    // Regenerate and Continue belong to the newest reply and wait for idle: the last few messages' menus
    // change when a message is added or a turn moves.
    if (changes.added.length || changes.removed.length || changes.turns) this.list.touch(step.state.order.slice(-6));
    if (changes.added.length) this.empty.hidden = true;
    if (changes.session) {
      this.session = changes.session;
      this.host.sessionChanged(changes.session);
      this.renderOrigin();
    }
    if (changes.artifacts) this.host.artifactsChanged();
  }

  // -- history -----------------------------------------------------------------------------
  /** The newest page of messages, with the approval cards: the approvals (decided ones too) say which turns'
   * work a later turn continued (a late answer carried in), known before the page is drawn. */
  private async loadNewest(): Promise<void> {
    if (!this.sessionId) return;
    const sessionId = this.sessionId;
    const [page, approvals] = await Promise.all([api.messages(sessionId, { limit: PAGE }), this.approvals.load(sessionId)]);
    if (sessionId !== this.sessionId) return;
    this.commit(approvalsLoaded(this.conversation, approvals));
    this.commit(loadHistory(this.conversation, page));
    this.flush();
    this.scrollToBottom();
    this.setupOlderLoading();
  }

  private async reloadAfterReset(): Promise<void> {
    // This server can't continue from our position (it restarted, or we were away too long):
    // reload what is stored; the stream then continues from its head.
    this.commit(forgetTurns(this.conversation));
    if (!this.sessionId) return;
    const sessionId = this.sessionId;
    try {
      const detail = await api.getSession(sessionId);
      this.applySessionDetail(detail);
      await this.loadNewest();
    } catch (error) {
      // Gone (a restore without it, read before its stream said so): left as a deleted session is.
      if (error instanceof ApiError && error.status === 404) return this.deleted(sessionId, "", RESTORED_AWAY);
      // anything else: the next poll retries
    }
    this.renderBusy();
  }

  private setupOlderLoading(): void {
    const more = !!this.conversation.olderCursor;
    this.top.hidden = !more;
    this.top.classList.toggle("chat__top--start", !more && this.conversation.order.length > 0);
    if (this.observer || !("IntersectionObserver" in window)) return;
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting) && this.conversation.olderCursor && this.loaded) void this.loadOlder();
      },
      { root: this.scroller, rootMargin: "200px 0px 0px 0px" },
    );
    this.observer.observe(this.top);
  }

  async loadOlder(): Promise<void> {
    const cursor = this.conversation.olderCursor;
    if (!this.sessionId || !cursor || this.loadingOlder) return;
    this.loadingOlder = true;
    this.olderButton.textContent = "Loading…";
    const sessionId = this.sessionId;
    try {
      const page = await api.messages(sessionId, { limit: PAGE, cursor });
      if (!this.alive || sessionId !== this.sessionId) return;
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      this.commit(addOlder(this.conversation, page));
      this.flush();
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
      this.top.hidden = !this.conversation.olderCursor;
    } catch {
      // shown by the overlay or retried on the next scroll
    } finally {
      this.loadingOlder = false;
      this.olderButton.textContent = "Load earlier messages";
    }
    // Still at the top with more to load (short pages): keep going.
    if (this.conversation.olderCursor && this.scroller.scrollTop < 50 && this.alive) window.setTimeout(() => void this.loadOlder(), 50);
  }

  // -- rendering -----------------------------------------------------------------------------
  private setReconnecting(on: boolean): void {
    if (this.reconnecting === on) return;
    this.reconnecting = on;
    this.element.classList.toggle("chat--reconnecting", on);
    this.renderBusy();
  }

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
    if (!this.list.pending) {
      this.renderBusy();
      return;
    }
    const stick = this.nearBottom();
    this.list.render(this.conversation);
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

  private renderBusy(): void {
    const { running, queued, waiting, busy } = activity(this.conversation);
    this.composer.showStop(running || !!waiting);
    this.element.classList.toggle("chat--busy", busy);
    let text = "";
    // No promise about the running reply: after a restart it is saved as interrupted, with Retry.
    if (this.reconnecting) text = navigator.onLine === false ? "You're offline…" : "Reconnecting to Blu…";
    else if (waiting?.reason === "approval") text = "Waiting for your answer…";
    else if (waiting && !running)
      text = `Waiting for a free Claude process (this Blu runs ${waiting.max_clis ?? "a few"} at a time)…`;
    else if (running && queued) text = `Blu is answering · ${queued} more queued`;
    else if (running) text = "Blu is answering…";
    else if (queued) text = `${queued} message${queued > 1 ? "s" : ""} queued`;
    if (this.loaded && this.status.textContent !== text) this.status.textContent = text;
    this.status.dataset.state = this.reconnecting ? "reconnecting" : running ? "running" : waiting ? "waiting" : queued ? "queued" : "idle";
    if (this.wasBusy && !busy) announce("Blu finished answering.");
    this.wasBusy = busy;
    this.empty.hidden = this.conversation.order.length > 0 || !this.loaded;
  }

  // -- actions -------------------------------------------------------------------------------
  /** Show the person's message at once, then post it (a new turn, with its own Idempotency-Key). */
  private async sendText(text: string, attachments: Record<string, string> = {}): Promise<void> {
    if (this.editing) {
      const edited = this.editing;
      this.editing = null;
      this.composer.stopEditing();
      await this.branch(edited, text);
      return;
    }
    const step = addLocal(this.conversation, text, randomId(), Date.now(), attachments);
    const id = step.changes.added[0]!;
    this.commit(step);
    this.flush();
    this.scrollToBottom();
    // An attachment gone from the workspace since it was attached (the server would refuse the message):
    // the message goes back into the box before it is posted or a session is made for it.
    if (Object.keys(attachments).length) {
      const missing = await missingFiles(Object.keys(attachments));
      if (!this.alive) {
        keepUnsent(this.sessionId, text, attachments);
        return;
      }
      if (missing.length) {
        this.commit(withoutMessage(this.conversation, id));
        this.flush();
        return this.giveBack(text, attachments, missing);
      }
    }
    const fresh = !this.sessionId;
    if (!this.sessionId) {
      try {
        await this.createSession();
      } catch (error) {
        if (this.refusedUnseen(null, text, attachments, error)) return;
        this.commit(sendFailed(this.conversation, id, `Couldn't start a session: ${(error as Error).message}`));
        this.flush();
        return;
      }
    }
    await this.post(id, fresh);
  }

  /** A message refused for an attachment no longer in the workspace: its text and attachments go back into
   * the box (the gone ones marked), with a notice naming them; nothing is lost and no "Not sent" is left. */
  private giveBack(text: string, files: DraftFiles, missing: readonly string[]): void {
    this.composer.giveBack(text);
    this.host.attachments?.giveBack(files, missing);
    this.host.toast(missingNotice(missing), "error");
  }

  private async createSession(): Promise<void> {
    const created = await api.createSession();
    this.sessionId = created.id;
    this.session = created.session;
    this.conversation = setSession(this.conversation, created.id);
    this.loaded = true;
    this.host.sessionCreated(created.session);
    this.startStream(created.id, 0, null);
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
          this.composer.micButton.focus();
        },
      });
    } catch (error) {
      this.voice = null;
      this.host.toast(`Couldn't open voice mode: ${(error as Error).message}`, "error");
    }
  }

  /** POST a local message; network errors and 502/503/504 are retried with the same Idempotency-Key. */
  private async post(id: string, fresh = false): Promise<void> {
    const msg = this.conversation.messages.get(id);
    if (!this.sessionId || !msg?.local) return;
    const sessionId = this.sessionId;
    const { text } = msg;
    const { key } = msg.local;
    this.commit(sendStarted(this.conversation, id));
    this.scheduleFlush();
    for (let attempt = 0; ; attempt += 1) {
      try {
        // The same Idempotency-Key on every retry: a POST that reached the server never runs twice.
        const result = await api.send(sessionId, text, key, Object.keys(msg.attachments ?? {}));
        if (!this.alive) return;
        this.commit(sendAccepted(this.conversation, id, result));
        this.scheduleFlush();
        return;
      } catch (error) {
        if (this.refusedUnseen(sessionId, text, msg.attachments ?? {}, error)) return;
        if (!this.alive) return;
        const gone = missingIn(error, msg.attachments ?? {});
        if (gone) {
          // Deleted after the check in sendText: nothing was stored, so the message goes back into the box.
          if (fresh && this.conversation.order.length === 1) return this.dropEmpty(sessionId, text, msg.attachments ?? {}, gone);
          this.commit(withoutMessage(this.conversation, id));
          this.scheduleFlush();
          return this.giveBack(text, msg.attachments ?? {}, [gone]);
        }
        let reason: string;
        if (error instanceof ApiError && error.status === 404 && /^session not found/i.test(error.detail)) {
          // The session is gone (deleted or restored away elsewhere): as for `session.deleted`, and the text
          // goes to the new chat's box instead of a "Send again" that can only fail.
          this.deleted(sessionId, text, undefined, msg.attachments ?? {});
          return;
        }
        if (error instanceof ApiError && error.status === 401) {
          reason = "Log in again, then send it again.";
        } else if (isUnreachable(error) && attempt < 8) {
          await sleep(Math.min(1000 * 2 ** attempt, 10_000));
          continue;
        } else {
          reason = (error as Error).message || "Not sent.";
        }
        this.commit(sendFailed(this.conversation, id, reason));
        this.scheduleFlush();
        return;
      }
    }
  }

  /** The session made for a message that was then refused is deleted, so no empty session is left; the
   * message (without the gone file, named in the notice) waits in the new chat's box. */
  private async dropEmpty(sessionId: string, text: string, files: DraftFiles, gone: string): Promise<void> {
    this.stream?.stop();
    try {
      await chatApi.deleteSession(sessionId);
    } catch {
      // left as an empty session: the message is still kept below
    }
    const { [gone]: _gone, ...kept } = files;
    carryDraft(sessionId, text, kept);
    this.host.sessionDeleted(sessionId, missingNotice([gone]));
  }

  /** A send refused after this view was taken down (a 401: the page went to the login form before the
   * answer reached here) can show no "Not sent": its text and attachments (uploaded already) go back into the
   * draft of the session (null: the new chat), so they are in the box after logging in again. A refusal means
   * nothing was stored, so sending it again cannot run it twice. True when the view is gone. */
  private refusedUnseen(sessionId: string | null, text: string, files: DraftFiles, error: unknown): boolean {
    if (this.alive) return false;
    if (sessionId && error instanceof ApiError && error.status === 404 && /^session not found/i.test(error.detail)) carryDraft(sessionId, text, files);
    else if (error instanceof ApiError && !isUnreachable(error)) keepUnsent(sessionId, text, files);
    return true;
  }

  private async stop(): Promise<void> {
    if (!this.sessionId) return;
    this.composer.stopping(true);
    try {
      const result = await api.interrupt(this.sessionId);
      if (!result.interrupted) this.host.toast("Nothing was running.");
      else announce("Stopping the turn.");
    } catch (error) {
      this.host.toast(`Couldn't stop: ${(error as Error).message}`, "error");
    } finally {
      this.composer.stopping(false);
    }
  }

  private onAction(id: string, action: MessageAction, button: HTMLButtonElement): void {
    const msg = this.conversation.messages.get(id);
    if (!msg) return;
    if (action === "retry") void this.post(id);
    if (action === "retry-turn" && retryOf(this.conversation, msg) === "resend") {
      const prompt = promptOf(this.conversation, msg);
      if (prompt) void this.sendText(prompt.text, prompt.attachments);
    }
    if (action === "continue") void this.sendText("Continue from where you stopped.");
    if (action === "cancel") void this.cancelQueued(msg, button);
    if (action === "fork") void this.fork(msg, button);
    if (action === "full-text") void this.showWhole(msg, button);
    if (action === "copy") void this.copy(msg);
    if (action === "edit") this.startEdit(msg);
    if (action === "regenerate") void this.regenerate(msg, button);
  }

  /** Regenerate: the same prompt answered again in this session, with Claude's context rewound to before it.
   * The reply stays, collapsed, as an earlier version; the new one streams below it. */
  private async regenerate(msg: Message, button: HTMLButtonElement): Promise<void> {
    if (!this.sessionId) return;
    button.disabled = true;
    try {
      const result = await api.regenerate(this.sessionId, msg.id);
      if (!this.alive) return;
      this.commit(applyRecord(this.conversation, result.earlier));
      this.scheduleFlush();
      announce("Regenerating the reply. The earlier version is kept, collapsed, above the new one.");
    } catch (error) {
      this.host.toast(`Couldn't regenerate: ${(error as Error).message}`, "error");
      button.disabled = false;
    }
  }

  private startEdit(msg: Message): void {
    this.editing = msg;
    this.composer.startEditing(msg.text);
  }

  /** Copy a message as Markdown (the whole text, when the record holds it shortened). */
  private async copy(msg: Message): Promise<void> {
    let text = markdownOf(msg);
    try {
      if (msg.truncated && this.sessionId) text = (await api.messageText(this.sessionId, msg.id)).text;
      await navigator.clipboard.writeText(text);
      this.host.toast("Copied as Markdown.");
    } catch (error) {
      this.host.toast(`Couldn't copy: ${(error as Error).message}`, "error");
    }
  }

  private async cancelQueued(msg: Message, button: HTMLButtonElement): Promise<void> {
    const turnId = cancellableTurn(this.conversation, msg);
    if (!this.sessionId || !turnId) return;
    button.disabled = true;
    try {
      const { cancelled } = await chatApi.cancelTurn(this.sessionId, turnId);
      this.host.toast(cancelled ? "Cancelled: that message won't run." : "Too late to cancel: it has started.");
    } catch (error) {
      this.host.toast(`Couldn't cancel: ${(error as Error).message}`, "error");
      button.disabled = false;
    }
  }

  /** Edit and resend: a new branch (a fork that holds what came before `msg`, with Claude's context cut at the
   * same place) in which `text` is sent instead of `msg`. This session stays as it was, so the earlier
   * version is one click away ("Branched from …" in the new one, the session list). */
  private async branch(msg: Message, text: string): Promise<void> {
    if (!this.sessionId) return;
    const point = branchPoint(this.conversation, msg);
    if (point === null) {
      this.host.toast("Load the earlier messages first (scroll up), then try again.", "error");
      return;
    }
    try {
      const target = point === "start" ? (await api.createSession()).id : (await api.fork(this.sessionId, point)).id;
      await api.send(target, text, randomId());
      this.host.toast("Sent in a new branch. The original is kept in the session it came from.");
      this.host.openSession(target);
    } catch (error) {
      this.host.toast(`Couldn't resend: ${(error as Error).message}`, "error");
    }
  }

  private async showWhole(msg: Message, button: HTMLButtonElement): Promise<void> {
    if (!this.sessionId) return;
    button.disabled = true;
    try {
      const whole = await api.messageText(this.sessionId, msg.id);
      this.commit(replaceText(this.conversation, msg.id, whole.text));
      this.scheduleFlush();
    } catch (error) {
      this.host.toast(`Couldn't load the whole message: ${(error as Error).message}`, "error");
      button.disabled = false;
    }
  }

  private async fork(msg: Message, button: HTMLButtonElement): Promise<void> {
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

/** Wrap the words a search found in <mark> inside an element's text (until it is rendered again). */
function markWords(root: HTMLElement, terms: readonly string[]): void {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes: Text[] = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node as Text);
  for (const node of nodes) {
    const text = node.data;
    const ranges = matchRanges(text, terms);
    if (!ranges.length || node.parentElement?.closest("button, mark")) continue;
    const parts: (string | Node)[] = [];
    let at = 0;
    for (const [start, end] of ranges) {
      if (start > at) parts.push(text.slice(at, start));
      parts.push(h("mark", { class: "search-mark" }, text.slice(start, end)));
      at = end;
    }
    if (at < text.length) parts.push(text.slice(at));
    node.replaceWith(...parts);
  }
}

/** What a send refused for attachments gone from the workspace tells the person. */
function missingNotice(missing: readonly string[]): string {
  const names = missing.map(shownName).join(", ");
  return `Not sent: ${names} ${missing.length > 1 ? "are" : "is"} no longer in the workspace. Your message is back in the box.`;
}

/** The conversation without a message this page added (a send refused before anything was stored). */
function withoutMessage(state: Conversation, id: string): Step {
  const messages = new Map(state.messages);
  messages.delete(id);
  const changes = { reset: false, added: [], removed: [id], updated: [], turns: false, session: null, artifacts: false };
  return { state: { ...state, messages, order: state.order.filter((m) => m !== id) }, changes };
}
