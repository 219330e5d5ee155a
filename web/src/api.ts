// The runtime's HTTP API as typed functions, with one place that notices "logged out" and "unreachable".

// Every record, answer and event is a type generated from the API's OpenAPI document (docs/openapi.json →
// web/src/generated/api.ts, by openapi-typescript; `make api` regenerates both). Nothing here restates a shape.
import type { components } from "./generated/api";

type Schemas = components["schemas"];

export type SessionRecord = Schemas["SessionRecord"];
/** A session as the list shows it: with how many approvals and questions wait for the person (GET /api/sessions;
 *  a record from an event does not say, so the count is optional here). */
export type ListedSession = SessionRecord & Partial<Pick<Schemas["SessionListed"], "pending_approvals">>;
/** A session with what runs in it now and where its event log stands (GET /api/sessions/{id}). */
export type SessionDetail = Schemas["SessionDetail"];
export type SessionPage = Schemas["SessionPage"];
export type CreatedSession = Schemas["CreatedSession"];
export type ToolCall = Schemas["ToolCall"];
export type MessageRecord = Schemas["MessageRecord"];
export type MessagePage = Schemas["MessagePage"];
export type MessageText = Schemas["MessageText"];
/** POST /api/sessions/{id}/messages: the turn that will answer (`replayed` only for a repeated Idempotency-Key). */
export type Accepted = Schemas["Accepted"];
/** POST /api/sessions/{id}/messages/{message_id}/regenerate: the new turn, and the reply kept as an earlier version. */
export type Regenerating = Schemas["Regenerating"];
export type ArtifactRecord = Schemas["ArtifactRecord"];
export type FileEntry = Schemas["FileEntry"];
export type FolderListing = Schemas["FolderListing"];
export type Written = Schemas["Written"];
export type Config = Schemas["Config"];
export type Stats = Schemas["Stats"];
/** Where to send an upload's bytes: a form POST (fields, then the file) or a raw PUT. */
export type UploadTarget = Schemas["UploadTarget"];
export type DownloadLink = Schemas["DownloadLink"];
export type VoiceToken = Schemas["VoiceToken"];

export type EventsPage = Schemas["EventsPage"];
/** Every event of a session's log: one union, discriminated on `type` (narrow with `switch (event.type)`). */
export type BluEvent = EventsPage["events"][number];
export type BluEventType = BluEvent["type"];
/** The member of the union with this `type`, e.g. `EventOf<"message.delta">`. */
export type EventOf<T extends BluEventType> = Extract<BluEvent, { type: T }>;
export type TurnStatusEvent = Schemas["TurnStatusEvent"];
export type MessageDeltaEvent = Schemas["MessageDeltaEvent"];
export type ToolCallEvent = Schemas["ToolCallEvent"];
export type ToolResultEvent = Schemas["ToolResultEvent"];
export type MessageCompleteEvent = Schemas["MessageCompleteEvent"];
export type MessageUpdatedEvent = Schemas["MessageUpdatedEvent"];
export type SessionUpdatedEvent = Schemas["SessionUpdatedEvent"];
/** The session was deleted (the last event of its log): a page that shows it leaves it. */
export type SessionDeletedEvent = Schemas["SessionDeletedEvent"];
export type ArtifactChangedEvent = Schemas["ArtifactChangedEvent"];
export type ErrorEvent = Schemas["ErrorEvent"];
export type ApprovalRequestedEvent = Schemas["ApprovalRequestedEvent"];
export type ApprovalResolvedEvent = Schemas["ApprovalResolvedEvent"];
/** An approval or a question of Claude's, waiting or decided (approval.* events, GET …/approvals). */
export type Approval = Schemas["Approval"];
/** `turn.status` data: one shape per status (queued, waiting, running, and the three ends). */
export type TurnStatus = TurnStatusEvent["data"];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfter = 0,
    readonly body: unknown = null,
  ) {
    super(detail || `HTTP ${status}`);
  }
}

/** The request never got an HTTP answer (offline, server down, DNS, reset). */
export class NetworkError extends Error {}

export const UNREACHABLE_STATUSES = new Set([502, 503, 504]);

interface Hooks {
  onUnauthorized: () => void;
  onUnreachable: () => void;
}

let hooks: Hooks = { onUnauthorized: () => undefined, onUnreachable: () => undefined };

export function setApiHooks(next: Hooks): void {
  hooks = next;
}

export interface RequestOptions {
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Leave a 401 to the caller (the login form) instead of switching to the login screen. */
  ownAuth?: boolean;
}

export async function request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      signal: options.signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    hooks.onUnreachable();
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  }
  if (response.ok) {
    if (response.status === 204) return undefined as T;
    const type = response.headers.get("content-type") || "";
    return (type.includes("json") ? await response.json() : await response.text()) as T;
  }
  let detail = response.statusText;
  let parsed: unknown = null;
  let retryAfter = Number(response.headers.get("retry-after") || 0);
  try {
    parsed = await response.json();
    const record = parsed as { detail?: unknown; retry_after?: unknown };
    if (typeof record.detail === "string") detail = record.detail;
    else if (Array.isArray(record.detail)) detail = "The request was not accepted.";
    if (typeof record.retry_after === "number") retryAfter = record.retry_after;
  } catch {
    // not JSON: keep the status text
  }
  // An answer with a `code` comes from Blu itself (e.g. 503 voice_not_configured): Blu is reachable.
  const fromBlu = typeof (parsed as { code?: unknown } | null)?.code === "string";
  if (UNREACHABLE_STATUSES.has(response.status) && !fromBlu) hooks.onUnreachable();
  if (response.status === 401 && !options.ownAuth) hooks.onUnauthorized();
  throw new ApiError(response.status, detail, retryAfter, parsed);
}

const q = encodeURIComponent;

export const api = {
  config: () => request<Config>("GET", "/api/config"),
  logout: () => request<void>("POST", "/api/logout"),
  listSessions: (opts: { cursor?: string | null; archived: boolean; limit?: number }) =>
    request<SessionPage>(
      "GET",
      `/api/sessions?limit=${opts.limit ?? 50}&archived=${opts.archived}` + (opts.cursor ? `&cursor=${q(opts.cursor)}` : ""),
    ),
  createSession: () => request<CreatedSession>("POST", "/api/sessions", { json: {} }),
  getSession: (id: string) => request<SessionDetail>("GET", `/api/sessions/${q(id)}`),
  updateSession: (id: string, changes: { name?: string; status?: "active" | "archived" }) =>
    request<SessionRecord>("PATCH", `/api/sessions/${q(id)}`, { json: changes }),
  messages: (id: string, opts: { cursor?: string | null; limit?: number }) =>
    request<MessagePage>(
      "GET",
      `/api/sessions/${q(id)}/messages?order=desc&limit=${opts.limit ?? 30}` +
        (opts.cursor ? `&cursor=${q(opts.cursor)}` : ""),
    ),
  send: (id: string, text: string, key: string, attachments: string[] = []) =>
    request<Accepted>(
      "POST",
      `/api/sessions/${q(id)}/messages`,
      { json: attachments.length ? { text, channel: "text", attachments } : { text, channel: "text" }, headers: { "Idempotency-Key": key } },
    ),
  messageText: (id: string, messageId: string) =>
    request<MessageText>("GET", `/api/sessions/${q(id)}/messages/${q(messageId)}/text`),
  regenerate: (id: string, messageId: string) =>
    request<Regenerating>("POST", `/api/sessions/${q(id)}/messages/${q(messageId)}/regenerate`),
  interrupt: (id: string) => request<Schemas["Interrupted"]>("POST", `/api/sessions/${q(id)}/interrupt`),
  fork: (id: string, messageId: string) =>
    request<CreatedSession>("POST", `/api/sessions/${q(id)}/fork`, { json: { message_id: messageId } }),
  events: (id: string, after: number, epoch: string | null, wait: number, signal: AbortSignal) =>
    request<EventsPage>(
      "GET",
      `/api/sessions/${q(id)}/events?after=${after}&wait=${wait}` + (epoch ? `&epoch=${q(epoch)}` : ""),
      { signal },
    ),
  artifacts: (id: string) => request<Schemas["ArtifactList"]>("GET", `/api/sessions/${q(id)}/artifacts`),
  listFiles: (path: string) =>
    request<FolderListing>("GET", `/api/files?path=${q(path)}`),
  upload: (path: string, file: Blob) =>
    request<Written>("PUT", `/api/files/content?path=${q(path)}`, {
      body: file,
      headers: { "Content-Type": "application/octet-stream" },
    }),
  startUpload: (path: string, size: number) => request<UploadTarget>("POST", "/api/files/uploads", { json: { path, size } }),
  completeUpload: (id: string) => request<Written>("POST", `/api/files/uploads/${q(id)}/complete`),
  downloadLink: (path: string) => request<DownloadLink>("POST", "/api/files/downloads", { json: { path } }),
  voiceToken: (sessionId: string) => request<VoiceToken>("POST", "/api/voice/token", { json: { session_id: sessionId } }),
  fileUrl: (path: string, download = false) => `/api/files/content?path=${q(path)}` + (download ? "&download=1" : ""),
};

/** Send a file's bytes to an upload target: the files bucket (a cross-origin form POST) or Blu itself. */
export async function sendToTarget(target: UploadTarget, file: Blob): Promise<void> {
  let body: BodyInit = file;
  if (target.method === "POST") {
    const form = new FormData();
    for (const [name, value] of Object.entries(target.fields)) form.append(name, value);
    form.append("file", file); // S3 ignores every field after the file
    body = form;
  }
  let response: Response;
  try {
    response = await fetch(target.url, { method: target.method, body, headers: target.headers, credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  }
  if (response.ok) return;
  const text = await response.text().catch(() => "");
  let detail = response.statusText;
  try {
    const parsed = JSON.parse(text) as { detail?: unknown };
    if (typeof parsed.detail === "string") detail = parsed.detail;
  } catch {
    const message = /<Message>([^<]*)<\/Message>/.exec(text); // S3 answers in XML
    if (message) detail = message[1];
  }
  if (response.status === 401) hooks.onUnauthorized();
  throw new ApiError(response.status, detail);
}
