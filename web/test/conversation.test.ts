import { describe, expect, it } from "vitest";
import {
  activity,
  addLocal,
  addOlder,
  applyEvent,
  applyRecord,
  canContinue,
  canFork,
  canRegenerate,
  canRetry,
  deliveryState,
  emptyConversation,
  forgetTurns,
  isEarlierVersion,
  loadHistory,
  promptOf,
  queuedAhead,
  replaceText,
  sendAccepted,
  sendFailed,
  sendStarted,
  shownText,
  turnOf,
  versionOf,
  type Conversation,
  type Message,
  type Step,
} from "../src/conversation";
import type { StreamEvent } from "../src/events";
import { Log, record, session, tool } from "./fixtures";

function applyAll(state: Conversation, events: StreamEvent[]): Conversation {
  return events.reduce((s, e) => applyEvent(s, e).state, state);
}

function msg(state: Conversation, id: string): Message {
  const found = state.messages.get(id);
  if (!found) throw new Error(`no message ${id}`);
  return found;
}

/** A session whose history holds one finished exchange. */
function loaded(): Conversation {
  const page = { messages: [record("101-a0", { role: "assistant", turn_id: "t0", text: "Hi." }), record("100-u0", { turn_id: "t0", text: "Hello" })], next: null };
  return loadHistory(emptyConversation("s1"), page).state;
}

const reply = (id: string, turn: string, overrides = {}) => record(id, { role: "assistant", turn_id: turn, ...overrides });

describe("history", () => {
  it("loads the newest page in order and says the whole list changed", () => {
    const step = loadHistory(emptyConversation("s1"), {
      messages: [record("103"), record("102"), record("101")],
      next: "cursor-1",
    });
    expect(step.state.order).toEqual(["101", "102", "103"]);
    expect(step.changes.reset).toBe(true);
    expect(step.changes.added).toEqual(["101", "102", "103"]);
    expect(step.state.olderCursor).toBe("cursor-1");
  });

  it("adds older pages before what is loaded, and skips what it already has", () => {
    const first = loadHistory(emptyConversation("s1"), { messages: [record("105"), record("104")], next: "c" }).state;
    const step = addOlder(first, { messages: [record("104"), record("103"), record("102")], next: null });
    expect(step.state.order).toEqual(["102", "103", "104", "105"]);
    expect(step.changes.added).toEqual(["102", "103"]);
    expect(step.changes.reset).toBe(false);
    expect(step.state.olderCursor).toBeNull();
  });

  it("never changes the state it was given", () => {
    const before = loaded();
    const log = new Log();
    const after = applyAll(before, [
      log.complete(record("102-u1", { turn_id: "t1" })),
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "102-u1" }),
      log.delta("t1", "103-a1", "Hi"),
    ]);
    expect(before.order).toEqual(["100-u0", "101-a0"]);
    expect(before.turns.size).toBe(0);
    expect(after.order).toEqual(["100-u0", "101-a0", "102-u1", "103-a1"]);
  });
});

describe("a streamed reply", () => {
  it("follows a text turn from the person's message to the stored reply", () => {
    const log = new Log();
    let state = loaded();
    let step: Step = applyEvent(state, log.complete(record("102-u1", { turn_id: "t1", text: "Write notes" })));
    expect(step.changes.added).toEqual(["102-u1"]);
    state = step.state;
    state = applyEvent(state, log.turn({ turn_id: "t1", status: "queued", position: 0, user_message_id: "102-u1" })).state;
    step = applyEvent(state, log.sessionUpdated(session({ message_count: 3 })));
    expect(step.changes.session?.message_count).toBe(3);
    expect(step.state).toBe(state); // nothing of the conversation itself changed
    state = step.state;

    step = applyEvent(state, log.turn({ turn_id: "t1", status: "running", tier: "cold", message_id: "103-a1", user_message_id: "102-u1" }));
    expect(step.changes.added).toEqual(["103-a1"]);
    state = step.state;
    expect(msg(state, "103-a1")).toMatchObject({ role: "assistant", state: "running", turn_id: "t1", liveValid: true });
    expect(activity(state)).toMatchObject({ running: true, busy: true, queued: 0 });

    for (const text of ["Writ", "ing ", "the file."]) {
      step = applyEvent(state, log.delta("t1", "103-a1", text));
      expect(step.changes).toMatchObject({ added: [], removed: [], updated: ["103-a1"], reset: false });
      state = step.state;
    }
    expect(shownText(msg(state, "103-a1"))).toBe("Writing the file.");

    const call = tool("toolu_1");
    state = applyEvent(state, log.toolCall("t1", "103-a1", call)).state;
    expect(msg(state, "103-a1").tool_calls).toEqual([call]);
    step = applyEvent(state, log.artifact("t1", "notes.txt"));
    expect(step.changes.artifacts).toBe(true);
    state = step.state;
    state = applyEvent(state, log.toolResult("t1", "103-a1", { ...call, outcome: "ok", result_summary: "File created", duration_ms: 45 })).state;
    state = applyEvent(state, log.delta("t1", "103-a1", " Done.")).state;
    expect(msg(state, "103-a1").tool_calls).toEqual([{ ...call, outcome: "ok", result_summary: "File created", duration_ms: 45 }]);
    expect(shownText(msg(state, "103-a1"))).toBe("Writing the file. Done.");

    const stored = reply("103-a1", "t1", { text: "Writing the file. Done.", output_tokens: 12, tool_calls: [{ ...call, outcome: "ok", result_summary: "File created", duration_ms: 45 }] });
    step = applyEvent(state, log.complete(stored));
    expect(step.changes.updated).toEqual(["103-a1"]);
    state = step.state;
    expect(msg(state, "103-a1")).toMatchObject({ state: "complete", text: "Writing the file. Done.", live: "", liveValid: false, output_tokens: 12 });
    state = applyEvent(state, log.turn({ turn_id: "t1", status: "complete", message_id: "103-a1", user_message_id: "102-u1", duration_ms: 900 })).state;
    expect(activity(state)).toMatchObject({ running: false, queued: 0, busy: false });
    expect(state.order).toEqual(["100-u0", "101-a0", "102-u1", "103-a1"]);
  });

  it("appends deltas in the order they come", () => {
    const log = new Log();
    const state = applyAll(loaded(), [
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "100-u0" }),
      ...["a", "b", "c", "d", "e"].map((t) => log.delta("t1", "103-a1", t)),
    ]);
    expect(shownText(msg(state, "103-a1"))).toBe("abcde");
  });

  it("replaces the streamed text with the stored message", () => {
    const log = new Log();
    const state = applyAll(loaded(), [
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1" }),
      log.delta("t1", "103-a1", "draft"),
      log.complete(reply("103-a1", "t1", { text: "final" })),
    ]);
    expect(shownText(msg(state, "103-a1"))).toBe("final");
  });

  it("ignores deltas of a reply whose start it did not see, and of finished or unknown messages", () => {
    const log = new Log();
    // Loaded in the middle of a turn: the history's reply holds what was checkpointed.
    let state = loadHistory(emptyConversation("s1"), {
      messages: [reply("103-a1", "t1", { state: "running", text: "Hel" }), record("102-u1", { turn_id: "t1" })],
      next: null,
    }).state;
    let step = applyEvent(state, log.delta("t1", "103-a1", "lo"));
    expect(step.changes.updated).toEqual([]);
    state = step.state;
    expect(shownText(msg(state, "103-a1"))).toBe("Hel");
    step = applyEvent(state, log.delta("t1", "999-zz", "lost"));
    expect(step.state.messages.has("999-zz")).toBe(false);
    expect(applyEvent(loaded(), log.delta("t0", "101-a0", " more")).state.messages.get("101-a0")?.text).toBe("Hi.");
  });

  it("rebuilds a running reply exactly when the log is replayed from its start after loading history", () => {
    // The page opened during a turn: history holds the reply's checkpoint ("Hel" and one tool call),
    // and the stream reads this server's log from 0, so every event of the turn comes again.
    const call = tool("toolu_1", { outcome: "ok", result_summary: "ok", duration_ms: 3 });
    let state = loadHistory(emptyConversation("s1"), {
      messages: [reply("103-a1", "t1", { state: "running", text: "Hel", tool_calls: [call] }), record("102-u1", { turn_id: "t1", text: "Hi" })],
      next: null,
    }).state;
    const log = new Log();
    const replay = [
      log.complete(record("102-u1", { turn_id: "t1", text: "Hi" })),
      log.turn({ turn_id: "t1", status: "queued", position: 0, user_message_id: "102-u1" }),
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "102-u1" }),
      log.delta("t1", "103-a1", "He"),
      log.toolCall("t1", "103-a1", tool("toolu_1")),
      log.toolResult("t1", "103-a1", { ...call, outcome: "ok" }),
      log.delta("t1", "103-a1", "l"),
    ];
    const steps = replay.map((event) => {
      const step = applyEvent(state, event);
      state = step.state;
      return step;
    });
    expect(steps.flatMap((s) => s.changes.added)).toEqual([]); // nothing shown twice
    expect(state.order).toEqual(["102-u1", "103-a1"]);
    expect(shownText(msg(state, "103-a1"))).toBe("Hel"); // not "HelHel"
    expect(msg(state, "103-a1").tool_calls).toEqual([call]);
    state = applyEvent(state, log.delta("t1", "103-a1", "lo")).state;
    expect(shownText(msg(state, "103-a1"))).toBe("Hello");
  });

  it("applies a repeated stored message or tool result without adding anything", () => {
    const log = new Log();
    const user = record("102-u1", { turn_id: "t1" });
    const result = { ...tool("toolu_1"), outcome: "ok" as const, result_summary: "done" };
    let state = applyAll(loaded(), [
      log.complete(user),
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "102-u1" }),
      log.toolCall("t1", "103-a1", tool("toolu_1")),
      log.toolResult("t1", "103-a1", result),
    ]);
    const before = state;
    const again = applyEvent(state, log.complete(user));
    expect(again.changes.added).toEqual([]);
    state = applyEvent(again.state, log.toolResult("t1", "103-a1", result)).state;
    expect(state.order).toEqual(before.order);
    expect(msg(state, "103-a1").tool_calls).toEqual([result]);
    expect(msg(state, "102-u1")).toEqual(msg(before, "102-u1"));
  });

  it("keeps the streamed text when the turn's running status comes again", () => {
    const log = new Log();
    const running = log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "100-u0" });
    let state = applyAll(loaded(), [running, log.delta("t1", "103-a1", "abc")]);
    const step = applyEvent(state, { ...running, seq: log.seq + 1 });
    state = step.state;
    expect(step.changes.added).toEqual([]);
    expect(shownText(msg(state, "103-a1"))).toBe("abc");
    state = applyEvent(state, log.delta("t1", "103-a1", "d")).state;
    expect(shownText(msg(state, "103-a1"))).toBe("abcd");
  });

  it("takes the reply's channel from the person's message", () => {
    const log = new Log();
    const state = applyAll(loaded(), [
      log.complete(record("102-u1", { turn_id: "t1", channel: "voice" })),
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "102-u1" }),
    ]);
    expect(msg(state, "103-a1").channel).toBe("voice");
  });

  it("leaves messages older than the loaded window to paging", () => {
    const log = new Log();
    const state = loadHistory(emptyConversation("s1"), { messages: [record("105"), record("104")], next: "more" }).state;
    const after = applyAll(state, [
      log.complete(record("101")),
      log.turn({ turn_id: "t9", status: "running", message_id: "102" }),
      log.complete(record("106")),
    ]);
    expect(after.order).toEqual(["104", "105", "106"]);
    // Without older history, everything the stream tells of is shown.
    const all = loadHistory(emptyConversation("s1"), { messages: [record("105"), record("104")], next: null }).state;
    expect(applyEvent(all, log.complete(record("101"))).state.order).toEqual(["101", "104", "105"]);
  });
});

describe("tool cards", () => {
  it("keeps one card per call, in the order the calls started", () => {
    const log = new Log();
    const a = tool("toolu_a", { name: "Read" });
    const b = tool("toolu_b", { name: "Bash" });
    const state = applyAll(loaded(), [
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1" }),
      log.toolCall("t1", "103-a1", a),
      log.toolCall("t1", "103-a1", b),
      log.toolResult("t1", "103-a1", { ...b, outcome: "error", result_summary: "exit 1", duration_ms: 10 }),
      log.toolResult("t1", "103-a1", { ...a, outcome: "ok", result_summary: "read", duration_ms: 20 }),
    ]);
    expect(msg(state, "103-a1").tool_calls.map((c) => [c.id, c.outcome])).toEqual([
      ["toolu_a", "ok"],
      ["toolu_b", "error"],
    ]);
  });

  it("keeps the calls seen in events when a running checkpoint lags, and takes the stored list when the reply ends", () => {
    const log = new Log();
    const a = tool("toolu_a");
    const b = tool("toolu_b");
    let state = applyAll(loaded(), [
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1" }),
      log.toolCall("t1", "103-a1", a),
      log.toolCall("t1", "103-a1", b),
      log.complete(reply("103-a1", "t1", { state: "running", tool_calls: [{ ...a, outcome: "ok" }] })),
    ]);
    expect(msg(state, "103-a1").tool_calls.map((c) => [c.id, c.outcome])).toEqual([
      ["toolu_a", "ok"],
      ["toolu_b", "pending"],
    ]);
    expect(msg(state, "103-a1").liveValid).toBe(true);
    state = applyEvent(state, log.complete(reply("103-a1", "t1", { tool_calls: [{ ...b, outcome: "stopped" }] }))).state;
    expect(msg(state, "103-a1").tool_calls).toEqual([{ ...b, outcome: "stopped" }]);
  });

  it("ignores tool events of a reply that is not running", () => {
    const log = new Log();
    const step = applyEvent(loaded(), log.toolCall("t0", "101-a0", tool("toolu_late")));
    expect(msg(step.state, "101-a0").tool_calls).toEqual([]);
    expect(step.changes.updated).toEqual([]);
  });
});

describe("interrupted and failed turns", () => {
  it("marks an interrupted reply and offers Retry and Fork", () => {
    const log = new Log();
    const state = applyAll(loaded(), [
      log.complete(record("102-u1", { turn_id: "t1", text: "Long job" })),
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "102-u1" }),
      log.delta("t1", "103-a1", "Start"),
      log.complete(reply("103-a1", "t1", { state: "interrupted", text: "Start", error: "Stopped on request." })),
      log.turn({ turn_id: "t1", status: "interrupted", message_id: "103-a1", user_message_id: "102-u1", reason: "interrupted" }),
    ]);
    const stopped = msg(state, "103-a1");
    expect(stopped).toMatchObject({ state: "interrupted", error: "Stopped on request.", liveValid: false });
    expect(canRetry(state, stopped)).toBe(true);
    expect(promptOf(state, stopped)?.text).toBe("Long job");
    expect(canFork(stopped)).toBe(true);
    expect(activity(state).busy).toBe(false);
  });

  it("shows the error event's sentence on a failed reply that has none, and never replaces one", () => {
    const log = new Log();
    let state = applyAll(loaded(), [
      log.complete(record("102-u1", { turn_id: "t1" })),
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "102-u1" }),
    ]);
    state = applyEvent(state, log.error("t1", "Claude is overloaded. Try again in a minute.")).state;
    expect(msg(state, "103-a1").error).toBe("Claude is overloaded. Try again in a minute.");
    state = applyEvent(state, log.complete(reply("103-a1", "t1", { state: "error", text: "", error: "Blu's own words." }))).state;
    state = applyEvent(state, log.error("t1", "Another sentence.")).state;
    expect(msg(state, "103-a1")).toMatchObject({ state: "error", error: "Blu's own words." });
    expect(canRetry(state, msg(state, "103-a1"))).toBe(true);
  });

  it("offers no Retry for a complete reply or one whose prompt is not loaded, and no Fork while running", () => {
    const state = loaded();
    expect(canRetry(state, msg(state, "101-a0"))).toBe(false);
    const orphan = loadHistory(emptyConversation("s1"), { messages: [reply("103-a1", "t1", { state: "error" })], next: null }).state;
    expect(canRetry(orphan, msg(orphan, "103-a1"))).toBe(false);
    const running = applyEvent(state, new Log().turn({ turn_id: "t1", status: "running", message_id: "103-a1" })).state;
    expect(canFork(msg(running, "103-a1"))).toBe(false);
    expect(canFork(msg(running, "100-u0"))).toBe(true);
  });

  it("ignores an error event of a turn it does not know", () => {
    const step = applyEvent(loaded(), new Log().error("t-unknown", "x"));
    expect(step.changes.updated).toEqual([]);
  });
});

describe("the queue", () => {
  function queue(): { state: Conversation; log: Log } {
    const log = new Log();
    const state = applyAll(loaded(), [
      log.complete(record("102-u1", { turn_id: "t1" })),
      log.turn({ turn_id: "t1", status: "queued", position: 0, user_message_id: "102-u1" }),
      log.turn({ turn_id: "t1", status: "running", message_id: "103-a1", user_message_id: "102-u1" }),
      log.complete(record("104-u2", { turn_id: "t2" })),
      log.turn({ turn_id: "t2", status: "queued", position: 1, user_message_id: "104-u2" }),
      log.complete(record("105-u3", { turn_id: "t3" })),
      log.turn({ turn_id: "t3", status: "queued", position: 2, user_message_id: "105-u3" }),
    ]);
    return { state, log };
  }

  it("counts the turns ahead of each queued message", () => {
    const { state } = queue();
    expect(queuedAhead(state, msg(state, "102-u1"))).toBeNull();
    expect(queuedAhead(state, msg(state, "104-u2"))).toBe(1);
    expect(queuedAhead(state, msg(state, "105-u3"))).toBe(2);
    expect(activity(state)).toMatchObject({ running: true, queued: 2, busy: true });
  });

  it("moves the queue on when a turn ends, and marks every queued message for rendering", () => {
    const { state, log } = queue();
    let step = applyEvent(state, log.turn({ turn_id: "t1", status: "complete", message_id: "103-a1", user_message_id: "102-u1" }));
    expect(step.changes.turns).toBe(true);
    expect([...step.changes.updated].sort()).toEqual(["102-u1", "104-u2", "105-u3"]);
    step = applyEvent(step.state, log.complete(reply("103-a1", "t1", { text: "ok" })));
    step = applyEvent(step.state, log.turn({ turn_id: "t2", status: "running", message_id: "106-a2", user_message_id: "104-u2" }));
    const next = step.state;
    expect(queuedAhead(next, msg(next, "104-u2"))).toBeNull();
    expect(queuedAhead(next, msg(next, "105-u3"))).toBe(1);
    expect(activity(next)).toMatchObject({ running: true, queued: 1 });
  });

  it("says when a turn waits for a free Claude process", () => {
    const log = new Log();
    const state = applyAll(loaded(), [
      log.complete(record("102-u1", { turn_id: "t1" })),
      log.turn({ turn_id: "t1", status: "waiting", message_id: "103-a1", user_message_id: "102-u1", reason: "capacity", running_clis: 2, max_clis: 2 }),
    ]);
    expect(turnOf(state, msg(state, "102-u1"))?.status).toBe("waiting");
    expect(activity(state)).toMatchObject({ running: false, busy: true });
    expect(activity(state).waiting?.max_clis).toBe(2);
  });

  it("forgets the turns when the server's log starts again", () => {
    const { state } = queue();
    const step = forgetTurns(state);
    expect(step.state.turns.size).toBe(0);
    expect(step.changes.turns).toBe(true);
    expect(queuedAhead(step.state, msg(step.state, "104-u2"))).toBeNull();
  });
});

describe("messages sent from this page", () => {
  function sending(): { state: Conversation; id: string } {
    const step = addLocal(loaded(), "Hello there", "key-1", 1795314900123);
    return { state: step.state, id: step.changes.added[0]! };
  }

  it("shows the message at once, after everything stored", () => {
    const { state, id } = sending();
    expect(id).toBe("~1795314900123-key-1");
    expect(state.order.at(-1)).toBe(id);
    expect(msg(state, id)).toMatchObject({ role: "user", text: "Hello there", local: { key: "key-1" }, created_at: 1795314900.123 });
    expect(deliveryState(msg(state, id))).toBe("sending");
    expect(canFork(msg(state, id))).toBe(false);
  });

  it("marks a failed send and clears the failure when sending again", () => {
    const { state, id } = sending();
    const failed = sendFailed(state, id, "Not sent.").state;
    expect(deliveryState(msg(failed, id))).toBe("failed");
    expect(msg(failed, id).local?.failed).toBe("Not sent.");
    const again = sendStarted(failed, id).state;
    expect(deliveryState(msg(again, id))).toBe("sending");
    expect(msg(again, id).local?.key).toBe("key-1");
  });

  it("keeps the local copy until the stored message arrives, then replaces it", () => {
    const { state, id } = sending();
    let next = sendAccepted(state, id, { message_id: "102-u1", turn_id: "t1", position: 2 }).state;
    expect(msg(next, id)).toMatchObject({ turn_id: "t1", local: { key: "key-1", messageId: "102-u1", position: 2 } });
    expect(deliveryState(msg(next, id))).toBe("complete");
    expect(queuedAhead(next, msg(next, id))).toBe(2); // no turn event yet: the POST's answer
    const step = applyEvent(next, new Log().complete(record("102-u1", { turn_id: "t1", text: "Hello there" })));
    next = step.state;
    expect(step.changes.removed).toEqual([id]);
    expect(step.changes.added).toEqual(["102-u1"]);
    expect(next.order).toEqual(["100-u0", "101-a0", "102-u1"]);
  });

  it("replaces the local copy by its text when the stored message comes before the POST's answer", () => {
    const { state, id } = sending();
    let next = applyEvent(state, new Log().complete(record("102-u1", { turn_id: "t1", text: "Hello there" }))).state;
    expect(next.messages.has(id)).toBe(false);
    const step = sendAccepted(next, id, { message_id: "102-u1", turn_id: "t1", position: 0 });
    next = step.state;
    expect(step.changes.added).toEqual([]);
    expect(next.order).toEqual(["100-u0", "101-a0", "102-u1"]);
  });

  it("drops the local copy when the POST is answered after the stored message was loaded", () => {
    const { state, id } = sending();
    const withStored = loadHistory(state, { messages: [record("102-u1", { text: "other text" }), record("100-u0")], next: null }).state;
    const step = sendAccepted(withStored, id, { message_id: "102-u1", turn_id: "t1", position: 0 });
    expect(step.state.messages.has(id)).toBe(false);
    expect(step.changes.removed).toEqual([id]);
  });

  it("keeps messages still being sent across a history reload, but not accepted ones", () => {
    const first = sending();
    const second = addLocal(first.state, "Second", "key-2", 1795314900999);
    const secondId = second.changes.added[0]!;
    const accepted = sendAccepted(second.state, first.id, { message_id: "102-u1", turn_id: "t1", position: 0 }).state;
    const reloaded = loadHistory(accepted, { messages: [record("102-u1", { text: "Hello there" }), record("100-u0")], next: null });
    expect(reloaded.state.order).toEqual(["100-u0", "102-u1", secondId]);
    expect(reloaded.changes.reset).toBe(true);
  });

  it("marks local copies for rendering when a turn changes (their queue badge)", () => {
    const { state, id } = sending();
    const step = applyEvent(state, new Log().turn({ turn_id: "t1", status: "queued", position: 0, user_message_id: "102-u1" }));
    expect(step.changes.updated).toContain(id);
  });
});

describe("other changes", () => {
  it("loads the whole text of a shortened message", () => {
    const state = loadHistory(emptyConversation("s1"), { messages: [record("100", { text: "cut…[truncated]", truncated: true })], next: null }).state;
    const step = replaceText(state, "100", "the whole text");
    expect(msg(step.state, "100")).toMatchObject({ text: "the whole text", truncated: false });
    expect(step.changes.updated).toEqual(["100"]);
  });

  it("ignores event types it does not know", () => {
    const state = loaded();
    const step = applyEvent(state, { seq: 1, type: "future.event", data: {}, at: 0 } as unknown as StreamEvent);
    expect(step.state).toBe(state);
    expect(step.changes).toMatchObject({ added: [], removed: [], updated: [], turns: false, session: null, artifacts: false });
  });
});

describe("regenerate: earlier versions of a reply", () => {
  /** Two exchanges; the newest reply ("103-a1", turn t1) is the one regenerated. */
  function twoExchanges(): Conversation {
    const messages = [reply("103-a1", "t1", { text: "Second answer" }), record("102-u1", { turn_id: "t1", text: "Second" }), reply("101-a0", "t0", { text: "First answer" }), record("100-u0", { turn_id: "t0", text: "First" })];
    return loadHistory(emptyConversation("s1"), { messages, next: null }).state;
  }
  const earlier = (id: string, by: string) => reply(id, "t1", { text: `answer ${id}`, superseded_by: by });

  it("keeps the replaced reply as an earlier version and streams the new one below it", () => {
    const log = new Log();
    let state = twoExchanges();
    expect(canRegenerate(state, msg(state, "103-a1"))).toBe(true);
    const marked = applyEvent(state, log.updated(earlier("103-a1", "105-a1")));
    expect(marked.changes.updated).toEqual(["103-a1"]);
    state = marked.state;
    expect(isEarlierVersion(msg(state, "103-a1"))).toBe(true);
    expect(msg(state, "103-a1").text).toBe("answer 103-a1"); // kept, to be read when opened
    // Nothing is offered on an earlier version but copying it: Claude no longer has it in mind.
    expect([canRegenerate(state, msg(state, "103-a1")), canFork(msg(state, "103-a1")), canContinue(state, msg(state, "103-a1"))]).toEqual([false, false, false]);

    state = applyAll(state, [
      log.turn({ turn_id: "t1", status: "queued", position: 0, user_message_id: "102-u1" }),
      log.turn({ turn_id: "t1", status: "running", message_id: "105-a1", user_message_id: "102-u1" }),
      log.delta("t1", "105-a1", "A new "),
      log.delta("t1", "105-a1", "answer."),
    ]);
    expect(state.order).toEqual(["100-u0", "101-a0", "102-u1", "103-a1", "105-a1"]);
    expect(shownText(msg(state, "105-a1"))).toBe("A new answer.");
    expect(promptOf(state, msg(state, "105-a1"))?.id).toBe("102-u1"); // the same prompt, stored once
    expect(versionOf(state, msg(state, "103-a1"))).toEqual({ index: 1, count: 2 });
    expect(versionOf(state, msg(state, "105-a1"))).toEqual({ index: 2, count: 2 });
    expect(versionOf(state, msg(state, "101-a0"))).toBeNull();
    expect(canRegenerate(state, msg(state, "105-a1"))).toBe(false); // still being written

    const done = applyAll(state, [log.complete(reply("105-a1", "t1", { text: "A new answer." })), log.turn({ turn_id: "t1", status: "complete", message_id: "105-a1", user_message_id: "102-u1" })]);
    expect(canRegenerate(done, msg(done, "105-a1"))).toBe(true);
    expect(canRegenerate(done, msg(done, "103-a1"))).toBe(false);
  });

  it("renders every version of the turn again when another one arrives (their 'N of M')", () => {
    const log = new Log();
    const state = applyEvent(twoExchanges(), log.updated(earlier("103-a1", "105-a1"))).state;
    const step = applyEvent(state, log.turn({ turn_id: "t1", status: "running", message_id: "105-a1", user_message_id: "102-u1" }));
    expect(step.changes.added).toEqual(["105-a1"]);
    expect(step.changes.updated).toContain("103-a1");
    expect(step.changes.updated).not.toContain("101-a0");
  });

  it("takes the answer of the POST before its event, and the event then changes nothing", () => {
    const state = twoExchanges();
    const first = applyRecord(state, earlier("103-a1", "105-a1"));
    expect(isEarlierVersion(msg(first.state, "103-a1"))).toBe(true);
    const again = applyEvent(first.state, new Log().updated(earlier("103-a1", "105-a1")));
    expect(again.state.messages.get("103-a1")).toEqual(first.state.messages.get("103-a1"));
  });

  it("shows two earlier versions after a reload, the newest reply being the one to regenerate", () => {
    const messages = [reply("107-a1", "t1", { text: "Third try" }), earlier("105-a1", "107-a1"), earlier("103-a1", "105-a1"), record("102-u1", { turn_id: "t1", text: "Second" }), reply("101-a0", "t0"), record("100-u0", { turn_id: "t0" })];
    const state = loadHistory(emptyConversation("s1"), { messages, next: null }).state;
    expect(["103-a1", "105-a1", "107-a1"].map((id) => versionOf(state, msg(state, id)))).toEqual([
      { index: 1, count: 3 },
      { index: 2, count: 3 },
      { index: 3, count: 3 },
    ]);
    expect(["103-a1", "105-a1", "107-a1"].map((id) => canRegenerate(state, msg(state, id)))).toEqual([false, false, true]);
    // A stopped earlier version offers no Retry either: its prompt was answered again.
    const stopped = applyRecord(state, earlier("105-a1", "107-a1")).state;
    const cut = applyRecord(stopped, { ...earlier("105-a1", "107-a1"), state: "interrupted", error: "Stopped on request." }).state;
    expect(canRetry(cut, msg(cut, "105-a1"))).toBe(false);
  });

  it("does not offer Regenerate on a reply the person has written after (a fork cut at their message)", () => {
    const messages = [record("104-u2", { turn_id: "t2", text: "unanswered" }), reply("103-a1", "t1"), record("102-u1", { turn_id: "t1" })];
    const state = loadHistory(emptyConversation("s1"), { messages, next: null }).state;
    expect(canRegenerate(state, msg(state, "103-a1"))).toBe(false);
    // A note of Blu's after the reply does not count.
    const noted = loadHistory(emptyConversation("s1"), { messages: [record("104-n", { role: "system" }), ...messages.slice(1)], next: null }).state;
    expect(canRegenerate(noted, msg(noted, "103-a1"))).toBe(true);
  });
});
