// Every event of a session's stream (docs/protocol.md, "The event stream"), as one union discriminated on
// `type`. The one place the UI names event shapes: stream.ts delivers them, conversation.ts applies them.
//
// Hand-written for now, from docs/protocol.md and what runtime/agent publishes; the records inside
// (messages, sessions, tool calls, artifacts) come from api.ts. When the types generated from the OpenAPI
// schema (web/src/generated/api.ts) carry the event union, this file re-exports it under these names.
import type { ArtifactRecord, MessageRecord, SessionRecord, ToolCall } from "./api";
import type { Approval } from "./approvals";

export type TurnState = "queued" | "waiting" | "running" | "complete" | "interrupted" | "error";

/** A stored message: the person's when accepted, the reply when its turn ends. Replaces streamed text. */
export interface MessageCompleteData {
  turn_id: string | null;
  message: MessageRecord;
}

/** Where a turn is. `waiting`: no free Claude Code process yet (`reason: "capacity"`), or a person's answer
 * (`reason: "approval"`, `approval_id`). */
export interface TurnStatusData {
  turn_id: string;
  status: TurnState;
  /** How many turns run before it (queued). */
  position?: number;
  tier?: "hot" | "warm" | "cold" | null;
  /** The reply's message id (absent on `queued`). */
  message_id?: string;
  user_message_id?: string;
  /** Why it ended or waits: "capacity", "interrupted", "shutdown", the watchdog's reason… */
  reason?: string | null;
  running_clis?: number;
  max_clis?: number;
  approval_id?: string;
  duration_ms?: number;
  first_token_ms?: number | null;
}

/** Text to append to the reply being written. */
export interface MessageDeltaData {
  turn_id: string;
  message_id: string;
  text: string;
  /** When the first of its tokens reached the server (epoch seconds). */
  received_at: number;
}

/** A tool call of the reply `message_id`: started (`tool.call`, pending) or finished (`tool.result`). */
export interface ToolEventData extends ToolCall {
  turn_id: string;
  message_id: string;
}

export interface ToolCallData extends ToolEventData {
  outcome: "pending";
}

export interface ToolResultData extends ToolEventData {
  outcome: Exclude<ToolCall["outcome"], "pending">;
}

export interface ArtifactChangedData extends ArtifactRecord {
  turn_id: string;
}

export interface SessionUpdatedData {
  session: SessionRecord;
}

export type ErrorKind = "auth" | "overloaded" | "rate_limited" | "api" | "claude" | "internal";

/** A turn failed: `message` is a sentence a person can act on. */
export interface TurnErrorData {
  turn_id: string;
  kind: ErrorKind;
  message: string;
}

interface Envelope<T extends string, D> {
  /** Position in this server process's log (from 1). */
  seq: number;
  type: T;
  data: D;
  /** When it was published (epoch seconds). */
  at: number;
}

export type MessageCompleteEvent = Envelope<"message.complete", MessageCompleteData>;
export type TurnStatusEvent = Envelope<"turn.status", TurnStatusData>;
export type MessageDeltaEvent = Envelope<"message.delta", MessageDeltaData>;
export type ToolCallEvent = Envelope<"tool.call", ToolCallData>;
export type ToolResultEvent = Envelope<"tool.result", ToolResultData>;
export type ArtifactChangedEvent = Envelope<"artifact.changed", ArtifactChangedData>;
export type SessionUpdatedEvent = Envelope<"session.updated", SessionUpdatedData>;
export type TurnErrorEvent = Envelope<"error", TurnErrorData>;
/** A tool call or a question waits for the person (`approval.requested`), or was decided (`approval.resolved`). */
export type ApprovalEvent = Envelope<"approval.requested" | "approval.resolved", Approval>;

export type StreamEvent =
  | MessageCompleteEvent
  | TurnStatusEvent
  | MessageDeltaEvent
  | ToolCallEvent
  | ToolResultEvent
  | ArtifactChangedEvent
  | SessionUpdatedEvent
  | TurnErrorEvent
  | ApprovalEvent;

export type EventType = StreamEvent["type"];

/** Every event type (a Record, so that leaving one out does not compile). */
const EVERY_TYPE: Record<EventType, true> = {
  "message.complete": true,
  "turn.status": true,
  "message.delta": true,
  "tool.call": true,
  "tool.result": true,
  "artifact.changed": true,
  "session.updated": true,
  error: true,
  "approval.requested": true,
  "approval.resolved": true,
};

/** For code that must tell a known event from one a newer server added. */
export const EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(EVERY_TYPE));

/** One answer of GET /api/sessions/{id}/events. */
export interface EventsPage {
  events: StreamEvent[];
  /** The position to ask from next (`after`). */
  next: number;
  /** Names the server process; a different one means its log started again. */
  epoch: string;
  /** The server cannot continue from the position asked: reload the messages, then go on from `next`. */
  reset: boolean;
}
