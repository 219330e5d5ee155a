// Every event of a session's stream (docs/protocol.md, "The event stream"), as the view uses them: one union
// discriminated on `type`. The shapes are the types generated from the API's schema (api.ts re-exports
// web/src/generated/api.ts); this file only names them for stream.ts (delivers) and conversation.ts (applies).
import type {
  ApprovalRequestedEvent,
  ApprovalResolvedEvent,
  ArtifactChangedEvent,
  BluEvent,
  BluEventType,
  ErrorEvent,
  EventsPage as GeneratedEventsPage,
  MessageCompleteEvent,
  MessageDeltaEvent,
  MessageUpdatedEvent,
  SessionDeletedEvent,
  SessionUpdatedEvent,
  ToolCallEvent,
  ToolResultEvent,
  TurnStatusEvent,
} from "./api";

export type {
  ArtifactChangedEvent,
  MessageCompleteEvent,
  MessageDeltaEvent,
  MessageUpdatedEvent,
  SessionDeletedEvent,
  SessionUpdatedEvent,
  ToolCallEvent,
  ToolResultEvent,
  TurnStatusEvent,
};
export type TurnErrorEvent = ErrorEvent;
export type StreamEvent = BluEvent;
export type EventType = BluEventType;

/** A stored message: the person's when accepted, the reply when its turn ends. Replaces streamed text. */
export type MessageCompleteData = MessageCompleteEvent["data"];
/** A finished message changed (a reply Regenerate replaced, now an earlier version): its record as stored now. */
export type MessageUpdatedData = MessageUpdatedEvent["data"];
/** Where a turn is: one shape per status (queued, waiting, running, and the ends). */
export type TurnStatusData = TurnStatusEvent["data"];
export type TurnState = TurnStatusData["status"];
/** Text to append to the reply being written. */
export type MessageDeltaData = MessageDeltaEvent["data"];
/** A tool call of the reply `message_id`: started (`tool.call`, pending) or finished (`tool.result`). */
export type ToolCallData = ToolCallEvent["data"];
export type ToolResultData = ToolResultEvent["data"];
export type ArtifactChangedData = ArtifactChangedEvent["data"];
export type SessionUpdatedData = SessionUpdatedEvent["data"];
/** A turn failed: `message` is a sentence a person can act on. */
export type TurnErrorData = TurnErrorEvent["data"];
export type ErrorKind = TurnErrorData["kind"];

/** A tool call or a question waits for the person (`approval.requested`), or was decided (`approval.resolved`). */
export type ApprovalEvent = ApprovalRequestedEvent | ApprovalResolvedEvent;

/** Every event type (a Record, so that leaving one out, or naming one the schema lacks, does not compile). */
const EVERY_TYPE: Record<EventType, true> = {
  "message.complete": true,
  "message.updated": true,
  "turn.status": true,
  "message.delta": true,
  "tool.call": true,
  "tool.result": true,
  "artifact.changed": true,
  "session.updated": true,
  "session.deleted": true,
  error: true,
  "memory.changed": true,
  "approval.requested": true,
  "approval.resolved": true,
};

/** For code that must tell a known event from one a newer server added. */
export const EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(EVERY_TYPE));

/** One answer of GET /api/sessions/{id}/events. */
export type EventsPage = GeneratedEventsPage;
