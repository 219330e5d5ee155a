// The runtime's HTTP API as typed functions, with one place that notices "logged out" and "unreachable".

export interface SessionRecord {
  id: string;
  name: string;
  status: "new" | "active" | "archived";
  created_at: number;
  updated_at: number;
  message_count: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  forked_from: string | null;
  running_turn_id: string | null;
  /** Approvals and questions waiting for the person (the session list's badge; GET /api/sessions). */
  pending_approvals?: number;
}

export interface SessionDetail extends SessionRecord {
  queue_length: number;
  running: boolean;
  events_head: number;
  epoch: string;
}

export interface ToolCall {
  id: string;
  name: string;
  input_summary: string;
  outcome: "pending" | "ok" | "error" | "denied" | "stopped";
  result_summary: string;
  duration_ms: number | null;
  /** Who or what let it run or refused it: "allowed by policy", "denied by person", … */
  decision?: string | null;
}

export interface MessageRecord {
  session_id: string;
  id: string;
  role: "user" | "assistant" | "system";
  text: string;
  channel: "text" | "voice";
  turn_id: string | null;
  state: "running" | "complete" | "interrupted" | "error";
  created_at: number;
  tool_calls: ToolCall[];
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  error: string | null;
  truncated: boolean;
}

export interface ArtifactRecord {
  path: string;
  session_id: string;
  operation: "create" | "update" | "delete";
  tool: string;
  updated_at: number;
}

export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "dir";
  size: number;
  modified: number;
}

export interface BluEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
  at: number;
}

export interface EventsPage {
  events: BluEvent[];
  next: number;
  epoch: string;
  reset: boolean;
}

export interface Config {
  model: "standin" | "claude";
  model_notice: string | null;
  store?: string;
  max_message_chars?: number;
  max_upload_bytes?: number;
  /** Files above this many bytes go directly to storage (API Gateway cuts bodies at 10 MB). */
  direct_transfer_bytes?: number;
  file_transfers?: "s3" | "local";
  idle_timeout_minutes?: number;
  voice?: boolean;
}

/** Where to send an upload's bytes: a form POST (fields, then the file) or a raw PUT. */
export interface UploadTarget {
  id: string;
  path: string;
  size: number;
  expires_at: number;
  method: "POST" | "PUT";
  url: string;
  fields: Record<string, string>;
  headers: Record<string, string>;
}

export interface DownloadLink {
  url: string;
  size: number;
  direct: boolean;
}

export interface VoiceToken {
  url: string;
  token: string;
  room: string;
  identity: string;
  expires_at: number;
  agent_name: string;
}

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
    request<{ sessions: SessionRecord[]; next: string | null }>(
      "GET",
      `/api/sessions?limit=${opts.limit ?? 50}&archived=${opts.archived}` + (opts.cursor ? `&cursor=${q(opts.cursor)}` : ""),
    ),
  createSession: () => request<{ id: string; session: SessionRecord }>("POST", "/api/sessions", { json: {} }),
  getSession: (id: string) => request<SessionDetail>("GET", `/api/sessions/${q(id)}`),
  updateSession: (id: string, changes: { name?: string; status?: "active" | "archived" }) =>
    request<SessionRecord>("PATCH", `/api/sessions/${q(id)}`, { json: changes }),
  messages: (id: string, opts: { cursor?: string | null; limit?: number }) =>
    request<{ messages: MessageRecord[]; next: string | null }>(
      "GET",
      `/api/sessions/${q(id)}/messages?order=desc&limit=${opts.limit ?? 30}` +
        (opts.cursor ? `&cursor=${q(opts.cursor)}` : ""),
    ),
  send: (id: string, text: string, key: string) =>
    request<{ turn_id: string; position: number; message_id: string; replayed?: boolean }>(
      "POST",
      `/api/sessions/${q(id)}/messages`,
      { json: { text, channel: "text" }, headers: { "Idempotency-Key": key } },
    ),
  messageText: (id: string, messageId: string) =>
    request<{ id: string; text: string }>("GET", `/api/sessions/${q(id)}/messages/${q(messageId)}/text`),
  interrupt: (id: string) => request<{ interrupted: boolean }>("POST", `/api/sessions/${q(id)}/interrupt`),
  fork: (id: string, messageId: string) =>
    request<{ id: string }>("POST", `/api/sessions/${q(id)}/fork`, { json: { message_id: messageId } }),
  events: (id: string, after: number, epoch: string | null, wait: number, signal: AbortSignal) =>
    request<EventsPage>(
      "GET",
      `/api/sessions/${q(id)}/events?after=${after}&wait=${wait}` + (epoch ? `&epoch=${q(epoch)}` : ""),
      { signal },
    ),
  artifacts: (id: string) => request<{ artifacts: ArtifactRecord[] }>("GET", `/api/sessions/${q(id)}/artifacts`),
  listFiles: (path: string) =>
    request<{ path: string; entries: FileEntry[]; truncated: boolean; hidden: number }>("GET", `/api/files?path=${q(path)}`),
  upload: (path: string, file: Blob) =>
    request<{ path: string; size: number }>("PUT", `/api/files/content?path=${q(path)}`, {
      body: file,
      headers: { "Content-Type": "application/octet-stream" },
    }),
  startUpload: (path: string, size: number) => request<UploadTarget>("POST", "/api/files/uploads", { json: { path, size } }),
  completeUpload: (id: string) => request<{ path: string; size: number }>("POST", `/api/files/uploads/${q(id)}/complete`),
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
