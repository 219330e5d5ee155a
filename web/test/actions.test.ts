import { describe, expect, it } from "vitest";
import {
  addLocal,
  applyEvent,
  approvalsLoaded,
  awaitsAnswer,
  callAwaitsAnswer,
  branchPoint,
  canContinue,
  canEdit,
  canRegenerate,
  cancellableTurn,
  emptyConversation,
  lastOwnMessage,
  loadHistory,
  markdownOf,
  retryOf,
  sendAccepted,
  type Conversation,
  type Message,
} from "../src/conversation";
import type { StreamEvent } from "../src/events";
import { Log, record } from "./fixtures";

function applyAll(state: Conversation, events: StreamEvent[]): Conversation {
  return events.reduce((s, e) => applyEvent(s, e).state, state);
}

function msg(state: Conversation, id: string): Message {
  const found = state.messages.get(id);
  if (!found) throw new Error(`no message ${id}`);
  return found;
}

const reply = (id: string, turn: string, overrides = {}) => record(id, { role: "assistant", turn_id: turn, ...overrides });

/** Two finished exchanges, newest page complete. */
function twoExchanges(lastReply = {}): Conversation {
  const messages = [reply("103-a1", "t1", { text: "Second answer", ...lastReply }), record("102-u1", { turn_id: "t1", text: "Second" }), reply("101-a0", "t0", { text: "First answer" }), record("100-u0", { turn_id: "t0", text: "First" })];
  return loadHistory(emptyConversation("s1"), { messages, next: null }).state;
}

describe("message actions", () => {
  it("retries the person's message as a new turn, and answers Blu's note or a schedule's prompt again in place", () => {
    const failed = twoExchanges({ state: "error", error: "Claude is overloaded." });
    expect(retryOf(failed, msg(failed, "103-a1"))).toBe("resend");
    for (const sender of ["blu", "schedule"] as const) {
      const messages = [
        reply("103-a1", "t1", { state: "error" }),
        record("102-u1", { turn_id: "t1", text: "[Blu] Blu stopped while…", sent_by: sender }),
        reply("101-a0", "t0", { state: "interrupted" }),
        record("100-u0", { turn_id: "t0", text: "First", sent_by: sender }),
      ];
      const state = loadHistory(emptyConversation("s1"), { messages, next: null }).state;
      expect(retryOf(state, msg(state, "103-a1"))).toBe("regenerate"); // never resent as the person's words
      expect(retryOf(state, msg(state, "101-a0"))).toBe(null); // not the newest reply: nothing to answer again in place
      const log = new Log();
      const busy = applyAll(state, [log.turn({ turn_id: "t2", status: "queued", user_message_id: "104-u2", position: 0 })]);
      expect(retryOf(busy, msg(busy, "103-a1"))).toBe(null);
    }
  });

  it("offers no Retry or Continue on a reply whose work a later turn took up (a late approval answer)", () => {
    const cut = twoExchanges({ state: "interrupted", error: "Blu restarted." });
    expect(retryOf(cut, msg(cut, "103-a1"))).toBe("resend");
    expect(canContinue(cut, msg(cut, "103-a1"))).toBe(true);
    const live = approvalsLoaded(cut, [{ turn_id: "t1", delivered: "live" }, { turn_id: "t1", delivered: null }]);
    expect(live.changes.updated).toEqual([]);
    expect(retryOf(live.state, msg(live.state, "103-a1"))).toBe("resend");
    const loaded = approvalsLoaded(cut, [{ turn_id: "t1", delivered: "reapplied" }]); // the new turn made the call again
    expect(loaded.changes.updated).toEqual(["103-a1"]); // rendered again, without its Retry
    expect(retryOf(loaded.state, msg(loaded.state, "103-a1"))).toBe(null);
    expect(canContinue(loaded.state, msg(loaded.state, "103-a1"))).toBe(false);
    // The same from the stream, as the answer is given.
    const resolved = {
      id: "a1", session_id: "s1", turn_id: "t1", tool_use_id: "tu1", tool_name: "Bash", input: {}, kind: "tool", status: "allowed",
      created_at: 1, decided_at: 2, decided_by: "person", message: "", answers: {}, always: false, delivered: "resumed",
    };
    const streamed = applyEvent(cut, { seq: 1, at: 2, type: "approval.resolved", data: resolved } as unknown as StreamEvent);
    expect(retryOf(streamed.state, msg(streamed.state, "103-a1"))).toBe(null);
  });

  it("offers no Retry, Continue or Regenerate while an approval of the reply's turn waits for the person", () => {
    // A restart cut the turn while its Bash call waited: the person's answer goes on with the work in a new turn.
    const cut = twoExchanges({ state: "interrupted", text: "Let me run it.", error: "Blu restarted." });
    const approval = {
      id: "a1", session_id: "s1", turn_id: "t1", tool_use_id: "tu1", tool_name: "Bash", input: {}, kind: "tool", status: "pending",
      created_at: 1, decided_at: null, decided_by: null, message: "", answers: {}, always: false, delivered: null,
    };
    const loaded = approvalsLoaded(cut, [approval]);
    expect(loaded.changes.updated).toEqual(["103-a1"]); // rendered again, without its Retry
    const waiting = loaded.state;
    const reply = msg(waiting, "103-a1");
    expect(awaitsAnswer(waiting, "t1")).toBe(true);
    expect(callAwaitsAnswer(waiting, "tu1")).toBe(true);
    expect(retryOf(waiting, reply)).toBe(null);
    expect(canContinue(waiting, reply)).toBe(false);
    expect(canRegenerate(waiting, reply)).toBe(false);
    expect(retryOf(cut, msg(cut, "103-a1"))).toBe("resend"); // without the approval, as before
    // From the stream: the request adds it, its answer takes it away (carried in: `continued` takes over).
    const event = (type: string, data: object, seq: number) => ({ seq, at: seq, type, data }) as unknown as StreamEvent;
    const requested = applyEvent(cut, event("approval.requested", approval, 1));
    expect(requested.changes.updated).toEqual(["103-a1"]);
    expect(retryOf(requested.state, msg(requested.state, "103-a1"))).toBe(null);
    const denied = applyEvent(requested.state, event("approval.resolved", { ...approval, status: "denied", delivered: "live" }, 2));
    expect(awaitsAnswer(denied.state, "t1")).toBe(false);
    expect(callAwaitsAnswer(denied.state, "tu1")).toBe(false);
    expect(retryOf(denied.state, msg(denied.state, "103-a1"))).toBe("resend");
    const carried = applyEvent(requested.state, event("approval.resolved", { ...approval, status: "allowed", delivered: "resumed" }, 2));
    expect(retryOf(carried.state, msg(carried.state, "103-a1"))).toBe(null);
    // The list replaces what the stream said: one answered while this page was away no longer waits.
    const reloaded = approvalsLoaded(requested.state, []);
    expect(awaitsAnswer(reloaded.state, "t1")).toBe(false);
    expect(reloaded.changes.updated).toEqual(["103-a1"]);
  });

  it("regenerates only the newest reply, and not while a turn runs", () => {
    const state = twoExchanges();
    expect(canRegenerate(state, msg(state, "103-a1"))).toBe(true);
    expect(canRegenerate(state, msg(state, "101-a0"))).toBe(false);
    expect(canRegenerate(state, msg(state, "102-u1"))).toBe(false);
    const log = new Log();
    const busy = applyAll(state, [log.complete(record("104-u2", { turn_id: "t2" })), log.turn({ turn_id: "t2", status: "queued", user_message_id: "104-u2", position: 0 })]);
    expect(canRegenerate(busy, msg(busy, "103-a1"))).toBe(false);
  });

  it("continues a newest reply that was cut short after writing something", () => {
    expect(canContinue(twoExchanges(), msg(twoExchanges(), "103-a1"))).toBe(false);
    const cut = twoExchanges({ state: "interrupted", error: "The turn ran longer than 900 s and Blu stopped it." });
    expect(canContinue(cut, msg(cut, "103-a1"))).toBe(true);
    const empty = twoExchanges({ state: "interrupted", text: "" });
    expect(canContinue(empty, msg(empty, "103-a1"))).toBe(false);
  });

  it("edits the person's stored messages; ↑ finds the newest", () => {
    const state = twoExchanges();
    expect(canEdit(msg(state, "100-u0"))).toBe(true);
    expect(canEdit(msg(state, "101-a0"))).toBe(false);
    expect(lastOwnMessage(state)?.id).toBe("102-u1");
    const sending = addLocal(state, "draft", "k1", 2_000_000_000_000).state;
    expect(lastOwnMessage(sending)?.id).toBe("102-u1"); // a message still being sent is not edited
  });

  it("offers no Edit and resend for Blu's own note or a schedule's prompt, and ↑ passes over them", () => {
    const state = twoExchanges();
    const log = new Log();
    const noted = applyAll(state, [
      log.complete(record("104-u2", { turn_id: "t2", sent_by: "blu", text: "[Blu] Blu stopped while your request for approval was waiting…" })),
      log.complete(reply("105-a2", "t2")),
      log.complete(record("106-u3", { turn_id: "t3", sent_by: "schedule", text: "Summarize the news" })),
    ]);
    expect(canEdit(msg(noted, "104-u2"))).toBe(false);
    expect(canEdit(msg(noted, "106-u3"))).toBe(false);
    expect(lastOwnMessage(noted)?.id).toBe("102-u1");
  });

  it("branches from the message before the edited one, or from the start", () => {
    const state = twoExchanges();
    expect(branchPoint(state, msg(state, "102-u1"))).toBe("101-a0");
    expect(branchPoint(state, msg(state, "100-u0"))).toBe("start");
    const partial = loadHistory(emptyConversation("s1"), { messages: [record("102-u1", { turn_id: "t1" })], next: "older" }).state;
    expect(branchPoint(partial, msg(partial, "102-u1"))).toBeNull(); // the one before is not loaded
  });

  it("offers cancelling a queued message only while it waits", () => {
    const log = new Log();
    let state = twoExchanges();
    state = applyAll(state, [
      log.complete(record("104-u2", { turn_id: "t2" })),
      log.turn({ turn_id: "t2", status: "running", message_id: "105-a2", user_message_id: "104-u2" }),
      log.complete(record("106-u3", { turn_id: "t3" })),
      log.turn({ turn_id: "t3", status: "queued", user_message_id: "106-u3", position: 1 }),
    ]);
    expect(cancellableTurn(state, msg(state, "104-u2"))).toBeNull();
    expect(cancellableTurn(state, msg(state, "106-u3"))).toBe("t3");
    state = applyAll(state, [log.turn({ turn_id: "t3", status: "interrupted", reason: "cancelled", user_message_id: "106-u3" })]);
    expect(cancellableTurn(state, msg(state, "106-u3"))).toBeNull();
  });

  it("offers cancelling a message sent from this page as soon as the server queued it", () => {
    let step = addLocal(twoExchanges(), "later", "k2", 2_000_000_000_000);
    const id = step.changes.added[0]!;
    expect(cancellableTurn(step.state, msg(step.state, id))).toBeNull();
    step = sendAccepted(step.state, id, { message_id: "107-u4", turn_id: "t4", position: 1 });
    expect(cancellableTurn(step.state, msg(step.state, id))).toBe("t4");
  });

  it("copies a message as its Markdown text", () => {
    const state = twoExchanges({ text: "# Title\n\n- **bold**" });
    expect(markdownOf(msg(state, "103-a1"))).toBe("# Title\n\n- **bold**");
  });
});
