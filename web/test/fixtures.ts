// Records and events as the server sends them, for the UI's unit tests.
import type { MessageRecord, SessionRecord, ToolCall } from "../src/api";
import type { StreamEvent, TurnState, TurnStatusData } from "../src/events";

/** A `turn.status` as a test states it: the status and what the test cares about; the rest as the server fills it. */
export type TurnFacts = { turn_id: string; status: TurnState } & Record<string, unknown>;

export function record(id: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    session_id: "s1",
    id,
    role: "user",
    text: `text of ${id}`,
    channel: "text",
    turn_id: null,
    state: "complete",
    created_at: 1795314793,
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
    ...overrides,
  };
}

export function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: "s1",
    name: "A session",
    status: "active",
    created_at: 1795314790,
    updated_at: 1795314795,
    message_count: 2,
    input_tokens: 0,
    output_tokens: 0,
    cost_usd: 0,
    stopped_replies: 0,
    forked_from: null,
    running_turn_id: null,
    claude_session_id: null,
    context_tokens: null,
    context_window: null,
    context_model: null,
    ...overrides,
  };
}

export function tool(id: string, overrides: Partial<ToolCall> = {}): ToolCall {
  return { id, name: "Write", input_summary: '{"file_path": "notes.txt"}', outcome: "pending", result_summary: "", duration_ms: null, text_offset: null, decision: null, ...overrides };
}

/** Events with increasing `seq`, as one server process's log numbers them. */
export class Log {
  seq = 0;

  private next<E extends StreamEvent>(type: E["type"], data: E["data"]): E {
    this.seq += 1;
    return { seq: this.seq, type, data, at: 1795314800 + this.seq } as E;
  }

  complete(message: MessageRecord): StreamEvent {
    return this.next("message.complete", { turn_id: message.turn_id ?? `turn-of-${message.id}`, message });
  }
  updated(message: MessageRecord): StreamEvent {
    return this.next("message.updated", { turn_id: message.turn_id ?? `turn-of-${message.id}`, message });
  }
  turn(facts: TurnFacts): StreamEvent {
    // The fields every shape of that status carries (runtime/agent/event_types.py), unless the test gives them.
    const filled: Record<string, unknown> = { ...facts };
    if (facts.status === "running" || facts.status === "waiting") filled.tier ??= null;
    if (facts.status === "complete" || facts.status === "interrupted" || facts.status === "error") filled.reason ??= null;
    if (facts.status !== "queued" && facts.status !== "waiting") filled.message_id ??= `reply-of-${facts.turn_id}`;
    filled.user_message_id ??= `user-of-${facts.turn_id}`;
    return this.next("turn.status", filled as TurnStatusData);
  }
  delta(turn_id: string, message_id: string, text: string): StreamEvent {
    return this.next("message.delta", { turn_id, message_id, text, received_at: 1795314801 });
  }
  toolCall(turn_id: string, message_id: string, call: ToolCall): StreamEvent {
    return this.next("tool.call", { turn_id, message_id, ...call, outcome: "pending" });
  }
  toolResult(turn_id: string, message_id: string, call: ToolCall & { outcome: "ok" | "error" | "denied" | "stopped" }): StreamEvent {
    return this.next("tool.result", { turn_id, message_id, ...call });
  }
  sessionDeleted(session_id: string): StreamEvent {
    return this.next("session.deleted", { session_id });
  }
  sessionUpdated(value: SessionRecord): StreamEvent {
    return this.next("session.updated", { session: value });
  }
  artifact(turn_id: string, path: string): StreamEvent {
    return this.next("artifact.changed", { turn_id, path, session_id: "s1", operation: "create", tool: "Write", updated_at: 1795314802 });
  }
  error(turn_id: string, message: string): StreamEvent {
    return this.next("error", { turn_id, kind: "claude", message });
  }
}
