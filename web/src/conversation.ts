// One session's conversation as plain data, with no DOM and no network: the messages in order, the text
// streaming into a reply, tool calls, turns (running, queued, waiting), messages still being sent and the
// approvals waiting for the person (a turn waiting for an answer has nothing to retry).
//
// Every function takes a state and returns a new one (the old one is never changed) together with
// `Changes`: which messages were added, removed or need rendering again, so the view touches only those.
// The rules (docs/ui.md, "Streaming and reconnecting"):
// - messages are keyed by id and kept in id order (ids sort by time; the local copies of messages being
//   sent have ids starting with "~", so they come last);
// - `message.complete` replaces whatever was streamed for that id, and a stored message of the person's
//   replaces the local copy shown while it was being sent;
// - deltas are added only to a reply whose `turn.status: running` was seen here, so a reply loaded from
//   history with part of its text is never repeated: from `running` on, its text is rebuilt from deltas;
// - messages older than the oldest loaded one arrive by paging, never from the stream;
// - a reply Regenerate replaced stays, as an earlier version (`superseded_by`, told by `message.updated`): the
//   replies of one turn are its versions, in order, and only the newest one is the conversation's.
// The stream (stream.ts) hands over each event once, in order; applying the same stored message or tool
// call again changes nothing.
import type { MessageRecord, SessionRecord, ToolCall } from "./api";
import type { StreamEvent, TurnStatusData } from "./events";

/** A message the person sent from this page, until the server has it. */
export interface LocalSend {
  /** The POST's Idempotency-Key (the same on every retry). */
  readonly key: string;
  /** The stored message's id, once the POST was accepted. */
  readonly messageId?: string;
  /** Why it was not sent (shown with "Send again"). */
  readonly failed?: string;
  /** How many turns ran before it when it was accepted. */
  readonly position?: number;
}

export interface Message extends Readonly<MessageRecord> {
  /** The text rebuilt from `message.delta` events; shown only while `liveValid`. */
  readonly live: string;
  /** This page saw the reply's turn start running, so every delta of it is seen. */
  readonly liveValid: boolean;
  readonly local?: LocalSend;
}

/** A turn as its `turn.status` events told it (later events' fields win). */
export type Turn = Readonly<TurnStatusData>;

export interface Conversation {
  readonly sessionId: string | null;
  readonly messages: ReadonlyMap<string, Message>;
  /** Message ids in display order. */
  readonly order: readonly string[];
  readonly turns: ReadonlyMap<string, Turn>;
  /** Where older history continues (null: the first message is loaded). */
  readonly olderCursor: string | null;
  /** Turns whose work a later turn took up: an approval answered after the turn had ended (a restart, a
   * sleep) was carried into a new turn (`delivered: "resumed"`), so the cut reply offers no Retry or Continue. */
  readonly continued: ReadonlySet<string>;
  /** Approvals waiting for the person, by id: while one waits its turn's work is not over (the answer goes on with
   * it, in a new turn when the turn has ended), and its tool call waits for the person, not running. */
  readonly pending: ReadonlyMap<string, PendingApproval>;
}

/** An approval waiting for the person: the turn that asked and the tool call it holds. */
export interface PendingApproval {
  readonly turn_id: string;
  readonly tool_use_id: string;
}

/** An approval as `GET …/approvals` and the approval events carry it (the fields read here). */
export interface ApprovalState {
  readonly id?: string;
  readonly turn_id: string;
  readonly tool_use_id?: string;
  readonly status?: string;
  readonly delivered?: string | null;
}

/** What an update changed, for the view. */
export interface Changes {
  /** Everything was replaced: rebuild the list from `order`. */
  readonly reset: boolean;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Messages (other than the added ones) to render again. */
  readonly updated: readonly string[];
  /** Turns changed (the busy line, Stop, queue badges). */
  readonly turns: boolean;
  /** A `session.updated` event's record. */
  readonly session: SessionRecord | null;
  /** An `artifact.changed` event: the artifacts list is stale. */
  readonly artifacts: boolean;
}

export interface Step {
  readonly state: Conversation;
  readonly changes: Changes;
}

export interface HistoryPage {
  /** Newest first, as GET /api/sessions/{id}/messages?order=desc answers. */
  readonly messages: readonly MessageRecord[];
  readonly next: string | null;
}

export function emptyConversation(sessionId: string | null): Conversation {
  return { sessionId, messages: new Map(), order: [], turns: new Map(), olderCursor: null, continued: new Set(), pending: new Map() };
}

const NO_CHANGES: Changes = { reset: false, added: [], removed: [], updated: [], turns: false, session: null, artifacts: false };

/** A mutable working copy for one update; `done()` gives the new state and what changed. */
class Draft {
  readonly messages: Map<string, Message>;
  order: string[];
  readonly turns: Map<string, Turn>;
  olderCursor: string | null;
  readonly continued: Set<string>;
  readonly pending: Map<string, PendingApproval>;
  /** For Changes: a `session.updated` record, an `artifact.changed` event. */
  session: SessionRecord | null = null;
  artifacts = false;

  /** Messages, their order or the turns differ from the base state. */
  private modified = false;
  private reset = false;
  private added = new Set<string>();
  private removed = new Set<string>();
  private updated = new Set<string>();
  private turnsChanged = false;

  constructor(readonly base: Conversation) {
    this.messages = new Map(base.messages);
    this.order = [...base.order];
    this.turns = new Map(base.turns);
    this.olderCursor = base.olderCursor;
    this.continued = new Set(base.continued);
    this.pending = new Map(base.pending);
  }

  clear(): void {
    this.modified = true;
    this.messages.clear();
    this.order = [];
    this.reset = true;
    this.added.clear();
    this.removed.clear();
    this.updated.clear();
  }

  add(msg: Message): void {
    this.modified = true;
    this.messages.set(msg.id, msg);
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.order[mid]! < msg.id) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, msg.id);
    this.added.add(msg.id);
  }

  remove(id: string): void {
    if (!this.messages.delete(id)) return;
    this.modified = true;
    this.order = this.order.filter((x) => x !== id);
    if (this.added.delete(id)) return;
    this.updated.delete(id);
    this.removed.add(id);
  }

  /** Replace a message with a changed copy. */
  change(id: string, patch: Partial<Message>): void {
    const msg = this.messages.get(id);
    if (!msg) return;
    this.modified = true;
    this.messages.set(id, { ...msg, ...patch });
    this.touch(id);
  }

  /** Render a message again (its badge depends on something else that changed). */
  touch(id: string): void {
    if (this.messages.has(id) && !this.added.has(id)) this.updated.add(id);
  }

  setTurn(turn: Turn): void {
    this.modified = true;
    this.turns.set(turn.turn_id, turn);
    this.turnsChanged = true;
  }

  /** A turn's work was taken up by a later turn: its replies lose Retry and Continue. */
  markContinued(turnId: string): void {
    if (this.continued.has(turnId)) return;
    this.modified = true;
    this.continued.add(turnId);
    for (const m of this.messages.values()) if (m.role === "assistant" && m.turn_id === turnId) this.touch(m.id);
  }

  /** An approval starts or stops waiting: its turn's replies change their actions and tool cards. */
  setPending(id: string, approval: PendingApproval | null): void {
    const before = this.pending.get(id);
    if (approval ? before?.turn_id === approval.turn_id && before.tool_use_id === approval.tool_use_id : !before) return;
    this.modified = true;
    if (approval) this.pending.set(id, approval);
    else this.pending.delete(id);
    for (const turnId of [before?.turn_id, approval?.turn_id]) touchVersions(this, turnId);
  }

  clearTurns(): void {
    if (this.turns.size) this.turnsChanged = this.modified = true;
    this.turns.clear();
  }

  done(): Step {
    const state: Conversation = {
      sessionId: this.base.sessionId,
      messages: this.messages,
      order: this.order,
      turns: this.turns,
      olderCursor: this.olderCursor,
      continued: this.continued,
      pending: this.pending,
    };
    const same = !this.modified && this.olderCursor === this.base.olderCursor;
    const noChanges = !this.reset && !this.added.size && !this.removed.size && !this.updated.size && !this.turnsChanged && !this.session && !this.artifacts;
    if (same && noChanges) return { state: this.base, changes: NO_CHANGES };
    return {
      state: same ? this.base : state,
      changes: {
        reset: this.reset,
        added: this.order.filter((id) => this.added.has(id)),
        removed: [...this.removed],
        updated: [...this.updated],
        turns: this.turnsChanged,
        session: this.session,
        artifacts: this.artifacts,
      },
    };
  }
}

function fromRecord(record: MessageRecord): Message {
  return { ...record, tool_calls: record.tool_calls ?? [], live: "", liveValid: false };
}

/** Messages older than the oldest loaded one arrive with paging, not from the stream. */
function outsideWindow(draft: Draft, id: string): boolean {
  if (!draft.olderCursor) return false;
  const oldest = draft.order.find((x) => !x.startsWith("~"));
  return oldest !== undefined && id < oldest;
}

function upsertTool(calls: readonly ToolCall[], call: ToolCall): ToolCall[] {
  const index = calls.findIndex((c) => c.id === call.id);
  if (index < 0) return [...calls, call];
  const next = [...calls];
  next[index] = call;
  return next;
}

/** Render every reply of a turn again: their "version N of M" depends on how many there are. */
function touchVersions(draft: Draft, turnId: string | null | undefined): void {
  if (!turnId) return;
  for (const m of draft.messages.values()) if (m.role === "assistant" && m.turn_id === turnId) draft.touch(m.id);
}

function upsertRecord(draft: Draft, record: MessageRecord): void {
  // A stored message of the person's replaces the local copy shown while it was being sent.
  if (record.role === "user") {
    for (const m of draft.messages.values()) {
      if (m.local && (m.local.messageId === record.id || (!m.local.messageId && m.text === record.text))) {
        draft.remove(m.id);
        break;
      }
    }
  }
  const existing = draft.messages.get(record.id);
  if (record.role === "assistant" && (!existing || existing.superseded_by !== record.superseded_by)) touchVersions(draft, record.turn_id);
  if (!existing) {
    if (!outsideWindow(draft, record.id)) draft.add(fromRecord(record));
    return;
  }
  // A running reply's checkpoint may lag the tool events already seen: keep those, add its own.
  const records = record.tool_calls ?? [];
  const tool_calls = record.state === "running" ? records.reduce(upsertTool, existing.tool_calls) : records;
  const finished = record.state !== "running";
  draft.change(record.id, {
    ...record,
    tool_calls,
    live: finished ? "" : existing.live,
    liveValid: finished ? false : existing.liveValid,
  });
}

function applyTurn(draft: Draft, data: TurnStatusData, at: number): void {
  const turn: Turn = { ...draft.turns.get(data.turn_id), ...data };
  draft.setTurn(turn);
  if (data.status === "running" && data.message_id) {
    let msg = draft.messages.get(data.message_id);
    if (!msg && !outsideWindow(draft, data.message_id)) {
      const user = data.user_message_id ? draft.messages.get(data.user_message_id) : undefined;
      msg = fromRecord({
        session_id: draft.base.sessionId ?? "",
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
        claude_message_uuid: null,
        attachments: {},
        superseded_by: null,
        sent_by: "person",
      });
      touchVersions(draft, data.turn_id);
      draft.add(msg);
    }
    if (msg && msg.state === "running" && !msg.liveValid) {
      // From here on every delta of this reply is seen: rebuild its text from them.
      draft.change(msg.id, { live: "", liveValid: true });
    }
  }
  // Queue badges depend on every turn's state.
  for (const t of draft.turns.values()) if (t.user_message_id) draft.touch(t.user_message_id);
  for (const m of draft.messages.values()) if (m.local) draft.touch(m.id);
}

/** Apply one event of the stream. */
export function applyEvent(state: Conversation, event: StreamEvent): Step {
  const draft = new Draft(state);
  switch (event.type) {
    case "message.complete":
    case "message.updated":
      upsertRecord(draft, event.data.message);
      break;
    case "message.delta": {
      const msg = draft.messages.get(event.data.message_id);
      if (msg && msg.state === "running" && msg.liveValid) draft.change(msg.id, { live: msg.live + String(event.data.text ?? "") });
      break;
    }
    case "tool.call":
    case "tool.result": {
      const msg = draft.messages.get(event.data.message_id);
      if (msg && msg.state === "running") {
        const { turn_id: _turn, message_id: _message, ...call } = event.data;
        draft.change(msg.id, { tool_calls: upsertTool(msg.tool_calls, call) });
      }
      break;
    }
    case "turn.status":
      applyTurn(draft, event.data, event.at);
      break;
    case "session.updated":
      draft.session = event.data.session;
      break;
    case "artifact.changed":
      draft.artifacts = true;
      break;
    case "approval.requested":
    case "approval.resolved":
      noteApproval(draft, event.data);
      break;
    case "error": {
      const turn = draft.turns.get(event.data.turn_id);
      const msg = turn && "message_id" in turn ? draft.messages.get(turn.message_id) : undefined;
      if (msg && !msg.error) draft.change(msg.id, { error: String(event.data.message ?? "") });
      break;
    }
    default:
      break; // a type a newer server added: nothing to show for it yet
  }
  return draft.done();
}

/** The newest page of history replaces every message, but messages still being sent stay. */
export function loadHistory(state: Conversation, page: HistoryPage): Step {
  const draft = new Draft(state);
  const sending = [...state.messages.values()].filter((m) => m.local && !m.local.messageId);
  draft.clear();
  for (const record of [...page.messages].reverse()) draft.add(fromRecord(record));
  for (const local of sending) draft.add(local);
  draft.olderCursor = page.next;
  return draft.done();
}

/** An older page of history (scrolling up): adds what is not loaded yet. */
export function addOlder(state: Conversation, page: HistoryPage): Step {
  const draft = new Draft(state);
  for (const record of page.messages) if (!draft.messages.has(record.id)) draft.add(fromRecord(record));
  draft.olderCursor = page.next;
  return draft.done();
}

/** An approval answered after its turn had ended: a new turn carried the answer in ("resumed"), and once that
 * turn made the same call again the stored decision was applied to it ("reapplied"). */
function carriedIn(delivered: string | null | undefined): boolean {
  return delivered === "resumed" || delivered === "reapplied";
}

/** One approval as it stands now: waiting, or answered (and then perhaps carried into a new turn). */
function noteApproval(draft: Draft, approval: ApprovalState): void {
  const waits = approval.status === "pending" && !!approval.id;
  if (approval.id) draft.setPending(approval.id, waits ? { turn_id: approval.turn_id, tool_use_id: approval.tool_use_id ?? "" } : null);
  if (carriedIn(approval.delivered)) draft.markContinued(approval.turn_id);
}

/** The session's approvals (GET …/approvals, all of them): which wait for the person now (the list replaces
 * what the stream told before it), and those answered after their turn had ended mark that turn's work as
 * taken up by a later turn. */
export function approvalsLoaded(state: Conversation, approvals: readonly ApprovalState[]): Step {
  const draft = new Draft(state);
  const listed = new Set(approvals.map((a) => a.id));
  for (const id of [...draft.pending.keys()]) if (!listed.has(id)) draft.setPending(id, null);
  for (const a of approvals) noteApproval(draft, a);
  return draft.done();
}

/** The turn waits for the person's answer to one of its approvals: that answer goes on with its work (in a new
 * turn when the turn has ended, e.g. cut by a restart), so its reply offers no Retry, Continue or Regenerate
 * (they would do the same work a second time). */
export function awaitsAnswer(state: Conversation, turnId: string | null | undefined): boolean {
  if (!turnId) return false;
  for (const a of state.pending.values()) if (a.turn_id === turnId) return true;
  return false;
}

/** A tool call held until the person answers its approval (shown as waiting for them, not running). */
export function callAwaitsAnswer(state: Conversation, callId: string): boolean {
  for (const a of state.pending.values()) if (a.tool_use_id === callId) return true;
  return false;
}

/** The server's log started again: the turns it told of are unknown until new events say. */
export function forgetTurns(state: Conversation): Step {
  const draft = new Draft(state);
  draft.clearTurns();
  return draft.done();
}

/** The empty chat got its session. */
export function setSession(state: Conversation, sessionId: string): Conversation {
  return { ...state, sessionId };
}

// -- messages the person sends from this page --------------------------------------------------

/** Show the person's message at once, before the POST; `now` in epoch milliseconds. */
export function addLocal(state: Conversation, text: string, key: string, now: number, attachments: Record<string, string> = {}): Step {
  const draft = new Draft(state);
  draft.add({
    ...fromRecord({
      session_id: state.sessionId ?? "",
      id: `~${now}-${key}`,
      role: "user",
      text,
      channel: "text",
      turn_id: null,
      state: "complete",
      created_at: now / 1000,
      tool_calls: [],
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      error: null,
      truncated: false,
      claude_message_uuid: null,
      attachments,
      superseded_by: null,
      sent_by: "person",
    }),
    local: { key },
  });
  return draft.done();
}

function changeLocal(state: Conversation, id: string, change: (local: LocalSend) => LocalSend): Step {
  const draft = new Draft(state);
  const msg = draft.messages.get(id);
  if (msg?.local) draft.change(id, { local: change(msg.local) });
  return draft.done();
}

/** (Re)sending: clear an earlier failure. */
export function sendStarted(state: Conversation, id: string): Step {
  return changeLocal(state, id, ({ failed: _failed, ...local }) => local);
}

export function sendFailed(state: Conversation, id: string, reason: string): Step {
  return changeLocal(state, id, (local) => ({ ...local, failed: reason }));
}

/** The POST was accepted: the local copy waits for its stored message, or goes if that came first. */
export function sendAccepted(state: Conversation, id: string, result: { message_id: string; turn_id: string; position: number }): Step {
  const draft = new Draft(state);
  const msg = draft.messages.get(id);
  if (!msg?.local) return draft.done();
  if (draft.messages.has(result.message_id)) draft.remove(id);
  else draft.change(id, { local: { ...msg.local, messageId: result.message_id, position: result.position }, turn_id: result.turn_id });
  return draft.done();
}

/** A stored record as the server answered it (Regenerate's earlier version), before its event arrives. */
export function applyRecord(state: Conversation, record: MessageRecord): Step {
  const draft = new Draft(state);
  upsertRecord(draft, record);
  return draft.done();
}

/** The whole text of a shortened message, loaded on request. */
export function replaceText(state: Conversation, id: string, text: string): Step {
  const draft = new Draft(state);
  draft.change(id, { text, truncated: false });
  return draft.done();
}

// -- what the view asks ---------------------------------------------------------------------------

/** The text to show: the streamed text while it is being written, else the stored one. */
export function shownText(msg: Message): string {
  return msg.state === "running" && msg.liveValid ? msg.live : msg.text;
}

/** "failed" and "sending" for local copies, else the stored state. */
export function deliveryState(msg: Message): "failed" | "sending" | Message["state"] {
  if (msg.local?.failed) return "failed";
  if (msg.local && !msg.local.messageId) return "sending";
  return msg.state;
}

/** The turn a message of the person's started. */
export function turnOf(state: Conversation, msg: Message): Turn | undefined {
  const userId = msg.local?.messageId ?? msg.id;
  return [...state.turns.values()].find((t) => t.user_message_id === userId);
}

/** How many turns run before the person's message (null: it is not queued). */
export function queuedAhead(state: Conversation, msg: Message): number | null {
  const userId = msg.local?.messageId ?? msg.id;
  const turn = turnOf(state, msg);
  if (!turn) return msg.local && msg.local.position ? msg.local.position : null;
  if (turn.status !== "queued") return null;
  let ahead = 0;
  for (const t of state.turns.values()) {
    if (t === turn) continue;
    if (t.status === "running") ahead += 1;
    else if (t.status === "queued" && (t.user_message_id ?? "") < userId) ahead += 1;
  }
  return ahead;
}

/** The person's message a reply answers (same turn), when it is loaded. */
export function promptOf(state: Conversation, reply: Message): Message | undefined {
  if (!reply.turn_id) return undefined;
  for (const m of state.messages.values()) if (m.role === "user" && !m.local && m.turn_id === reply.turn_id) return m;
  return undefined;
}

/** A reply Regenerate replaced: kept (collapsed) as an earlier version, no longer in Claude's context. */
export function isEarlierVersion(msg: Message): boolean {
  return !!msg.superseded_by;
}

/** Where a reply stands among the loaded replies of its turn (its versions, oldest first): `index` from 1 of
 * `count`; null when the turn has one reply only. */
export function versionOf(state: Conversation, msg: Message): { index: number; count: number } | null {
  if (msg.role !== "assistant" || !msg.turn_id) return null;
  const versions = state.order.filter((id) => {
    const m = state.messages.get(id);
    return m?.role === "assistant" && !m.local && m.turn_id === msg.turn_id;
  });
  return versions.length > 1 ? { index: versions.indexOf(msg.id) + 1, count: versions.length } : null;
}

/** How a stopped or failed reply is asked again (null: it is not). The person's own message is sent again as a
 * new turn ("resend"). A prompt that is not the person's words (Blu's note carrying a late approval answer in, a
 * scheduled run's) is never sent as theirs: it is answered again in place ("regenerate", the reply kept as an
 * earlier version), which only the newest reply allows, while nothing runs; otherwise there is no Retry. A
 * reply whose work a later turn took up (`continued`), or will take up once the person answers the approval it
 * waits for (`awaitsAnswer`), has nothing to retry: the approval card is the way on. */
export function retryOf(state: Conversation, msg: Message): "resend" | "regenerate" | null {
  if (msg.local || msg.role !== "assistant" || isEarlierVersion(msg) || !(msg.state === "interrupted" || msg.state === "error")) return null;
  if (workGoesOn(state, msg)) return null;
  const prompt = promptOf(state, msg);
  if (!prompt) return null;
  if (isOwn(prompt)) return "resend";
  return canRegenerate(state, msg) ? "regenerate" : null;
}

/** A stopped or failed reply can be asked again (`retryOf` says how). */
export function canRetry(state: Conversation, msg: Message): boolean {
  return retryOf(state, msg) !== null;
}

/** Fork points: every stored message that is not being written (an earlier version is not in Claude's context). */
export function canFork(msg: Message): boolean {
  return !msg.local && msg.state !== "running" && !isEarlierVersion(msg);
}

export interface Activity {
  running: boolean;
  queued: number;
  /** A turn waiting for a free Claude Code process. */
  waiting: Extract<Turn, { status: "waiting" }> | undefined;
  busy: boolean;
}

export function activity(state: Conversation): Activity {
  const turns = [...state.turns.values()];
  const running = turns.some((t) => t.status === "running") || [...state.messages.values()].some((m) => m.state === "running" && !m.local);
  const queued = turns.filter((t) => t.status === "queued").length;
  const waiting = turns.find((t): t is Extract<Turn, { status: "waiting" }> => t.status === "waiting");
  return { running, queued, waiting, busy: running || queued > 0 || !!waiting };
}

// -- the actions a message offers (docs/ui.md, "Messages") ----------------------------------------

/** The newest stored message of the given role (earlier versions of a reply left out). */
function lastOf(state: Conversation, role: Message["role"]): Message | undefined {
  for (let i = state.order.length - 1; i >= 0; i -= 1) {
    const m = state.messages.get(state.order[i]!);
    if (m && !m.local && m.role === role && !isEarlierVersion(m)) return m;
  }
  return undefined;
}

/** The newest reply, when no message of the person's came after it (only notes may follow it). */
function newestReply(state: Conversation): Message | undefined {
  const reply = lastOf(state, "assistant");
  const prompt = lastOf(state, "user");
  return reply && (!prompt || prompt.id < reply.id) ? reply : undefined;
}

/** A prompt the person sent (not Blu's own note carrying a late approval answer in, nor a schedule's run):
 * only these show as "You" and can be edited and resent. Older records have no `sent_by`: the person's. */
export function isOwn(msg: Message): boolean {
  return msg.role === "user" && (msg.sent_by ?? "person") === "person";
}

/** The person's newest stored message (↑ in an empty message box edits it). */
export function lastOwnMessage(state: Conversation): Message | undefined {
  for (let i = state.order.length - 1; i >= 0; i -= 1) {
    const m = state.messages.get(state.order[i]!);
    if (m && !m.local && isOwn(m)) return m;
  }
  return undefined;
}

/** A reply's work goes on elsewhere: a later turn took it up (`continued`), or the person's answer to an approval
 * of its turn will. */
function workGoesOn(state: Conversation, msg: Message): boolean {
  return !!msg.turn_id && (state.continued.has(msg.turn_id) || awaitsAnswer(state, msg.turn_id));
}

/** Regenerate: the newest reply (nothing of the person's after it), finished, with its prompt loaded, while
 * nothing else runs or waits, and no approval of its turn waits for the person. It is answered again in this
 * session; the reply stays as an earlier version. */
export function canRegenerate(state: Conversation, msg: Message): boolean {
  return (
    !msg.local &&
    !awaitsAnswer(state, msg.turn_id) &&
    msg.role === "assistant" &&
    msg.state !== "running" &&
    newestReply(state)?.id === msg.id &&
    !!promptOf(state, msg) &&
    !activity(state).busy
  );
}

/** Continue: the newest reply was cut short (stopped, a time limit) after it wrote something. */
export function canContinue(state: Conversation, msg: Message): boolean {
  if (workGoesOn(state, msg)) return false;
  return !msg.local && msg.role === "assistant" && msg.state === "interrupted" && !!msg.text.trim() && lastOf(state, "assistant")?.id === msg.id && !activity(state).busy;
}

/** Edit and resend: any stored message of the person's. */
export function canEdit(msg: Message): boolean {
  return !msg.local && isOwn(msg);
}

/** A queued message of the person's can be cancelled before it runs: its turn id, else null. */
export function cancellableTurn(state: Conversation, msg: Message): string | null {
  if (msg.role !== "user" || msg.local?.failed) return null;
  const turn = turnOf(state, msg);
  if (turn) return turn.status === "queued" ? turn.turn_id : null;
  return msg.local?.messageId && msg.local.position && msg.turn_id ? msg.turn_id : null;
}

/** Where the branch Edit and resend starts when it replaces `msg`: the stored message just before it ("start":
 * it is the first message, so the branch is a new session; null: the one before is not loaded yet). */
export function branchPoint(state: Conversation, msg: Message): string | "start" | null {
  const index = state.order.indexOf(msg.id);
  for (let i = index - 1; i >= 0; i -= 1) {
    const m = state.messages.get(state.order[i]!);
    if (m && !m.local) return m.id;
  }
  return state.olderCursor ? null : "start";
}

/** A message as Markdown, for the clipboard: its text as written (a reply's tool calls are left out). */
export function markdownOf(msg: Message): string {
  return shownText(msg);
}
