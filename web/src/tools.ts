// What a tool call shows, as plain data (no DOM): where in the reply it happened, what it worked on
// (paths relative to the workspace), an Edit/Write/MultiEdit as a line diff, a Bash command with its exit
// status, errors without the CLI's `<tool_use_error>` tags, who denied a call, and the task list that
// TodoWrite (and its successors TaskCreate/TaskUpdate) keep. message-view.ts turns these into cards.
import type { ToolCall } from "./api";

/** A tool call as stored; `text_offset` is where in the reply's text it started (docs/protocol.md). */
export type PlacedCall = ToolCall & { text_offset?: number | null };

export type Segment = { kind: "text"; text: string } | { kind: "tool"; call: PlacedCall };

/** Index in a JS string (UTF-16 units) of the `points`-th Unicode code point. */
function codePointIndex(text: string, points: number): number {
  let index = 0;
  for (let n = 0; n < points && index < text.length; n += 1) {
    const code = text.charCodeAt(index);
    index += code >= 0xd800 && code <= 0xdbff && index + 1 < text.length ? 2 : 1;
  }
  return index;
}

/** The reply as text and tool cards in the order they happened. Calls without an offset (records written
 * before offsets existed) come first; an offset past the text (a shortened text) means the end. Empty
 * text pieces are left out, and the blank lines that separate blocks are trimmed at each cut. */
export function segments(text: string, calls: readonly PlacedCall[]): Segment[] {
  const placed = calls.map((call, order) => ({ call, order, at: call.text_offset == null ? -1 : codePointIndex(text, call.text_offset) }));
  placed.sort((a, b) => a.at - b.at || a.order - b.order);
  const out: Segment[] = [];
  let from = 0;
  const pushText = (piece: string) => {
    const trimmed = piece.replace(/^\n+/, "").replace(/\n+$/, "");
    if (trimmed.trim()) out.push({ kind: "text", text: trimmed });
  };
  for (const { call, at } of placed) {
    if (at > from) {
      pushText(text.slice(from, at));
      from = at;
    }
    out.push({ kind: "tool", call });
  }
  pushText(text.slice(from));
  return out;
}

/** The input of a call as an object (null when it is not JSON, e.g. cut at 16 kB). */
export function toolInput(call: ToolCall): Record<string, unknown> | null {
  try {
    const value = JSON.parse(call.input_summary) as unknown;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `path` relative to the workspace when it lies inside it; other paths as they are. */
export function relativePath(path: string, workspace: string | null | undefined): string {
  if (!workspace) return path;
  const root = workspace.replace(/\/+$/, "");
  if (path === root) return ".";
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
}

const TARGET_KEYS = ["file_path", "notebook_path", "path", "command", "pattern", "url", "query", "subject", "description"];

/** What a tool worked on: a path (relative to the workspace), a command, a pattern… */
export function toolTarget(call: ToolCall, workspace?: string | null): string {
  const input = toolInput(call);
  if (input) {
    for (const key of TARGET_KEYS) {
      const value = input[key];
      if (typeof value === "string" && value) return key.endsWith("path") ? relativePath(value, workspace) : value;
    }
    if (typeof input.taskId === "string") return `task #${input.taskId}`;
    if (Array.isArray(input.todos)) return `${input.todos.length} task${input.todos.length === 1 ? "" : "s"}`;
    return "";
  }
  return call.input_summary;
}

/** A result or error as a person reads it: the CLI's `<tool_use_error>` tags removed. */
export function cleanResult(text: string): string {
  return text.replace(/<\/?tool_use_error>/g, "").trim();
}

/** What a call's badge says and how it is coloured. A call held for the person's answer to its approval waits
 * for them ("Waiting for you"), and runs again ("Running") once allowed; the stored outcome says "pending" for
 * both. */
export function callStatus(call: ToolCall, awaitsAnswer: boolean): { label: string; kind: "ok" | "live" | "warn" | "error" } {
  if (call.outcome === "pending") return awaitsAnswer ? { label: "Waiting for you", kind: "warn" } : { label: "Running", kind: "live" };
  return { label: OUTCOME_LABEL[call.outcome] ?? call.outcome, kind: call.outcome === "ok" ? "ok" : "error" };
}

const OUTCOME_LABEL: Record<string, string> = { ok: "Done", error: "Failed", denied: "Denied", stopped: "Stopped" };

const DENIERS: Record<string, string> = { person: "Denied by you", policy: "Denied by Blu's tool policy" };

/** Who refused a denied call: the `decision` Blu recorded on it ("denied by person", "denied by policy",
 * "… (answered earlier)"); without one (an older record, or Claude Code refused it itself), its reason's words. */
export function deniedBy(call: ToolCall): string {
  const by = /^denied by (.+?)(?: \(answered earlier\))?$/i.exec(call.decision ?? "")?.[1];
  if (by) return DENIERS[by] ?? `Denied by ${by}`;
  const reason = cleanResult(call.result_summary);
  if (/Blu's tool policy/i.test(reason)) return DENIERS.policy!;
  if (/denied by the person|user|you/i.test(reason)) return DENIERS.person!;
  return "Denied by Claude Code's permission settings";
}

// -- diffs ---------------------------------------------------------------------------------------

export interface DiffLine {
  kind: "same" | "add" | "del";
  text: string;
}

const MAX_DIFF_CELLS = 4_000_000;

/** A line diff (longest common subsequence). No diff package is installed, so this is the small
 * classic one; inputs too large for it are shown as all removed, then all added. */
export function lineDiff(before: string, after: string): DiffLine[] {
  const a = before === "" ? [] : before.split("\n");
  const b = after === "" ? [] : after.split("\n");
  // Common head and tail first: most edits change a few lines in the middle.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const out: DiffLine[] = a.slice(0, head).map((text) => ({ kind: "same", text }));
  if (midA.length * midB.length > MAX_DIFF_CELLS) {
    out.push(...midA.map((text) => ({ kind: "del" as const, text })), ...midB.map((text) => ({ kind: "add" as const, text })));
  } else {
    const n = midA.length;
    const m = midB.length;
    const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        lcs[i]![j] = midA[i] === midB[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        out.push({ kind: "same", text: midA[i]! });
        i += 1;
        j += 1;
      } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
        out.push({ kind: "del", text: midA[i]! });
        i += 1;
      } else {
        out.push({ kind: "add", text: midB[j]! });
        j += 1;
      }
    }
  }
  out.push(...a.slice(a.length - tail).map((text) => ({ kind: "same" as const, text })));
  return out;
}

/** The changes a file tool made, as diffs (one per edit), or null for other tools or unreadable input. */
export function fileDiffs(call: ToolCall): DiffLine[][] | null {
  const input = toolInput(call);
  if (!input) return null;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  if (call.name === "Edit" && ("old_string" in input || "new_string" in input)) return [lineDiff(str(input.old_string), str(input.new_string))];
  if (call.name === "MultiEdit" && Array.isArray(input.edits)) {
    return (input.edits as Record<string, unknown>[]).map((e) => lineDiff(str(e?.old_string), str(e?.new_string)));
  }
  if (call.name === "Write" && "content" in input) return [lineDiff("", str(input.content))];
  return null;
}

// -- Bash ----------------------------------------------------------------------------------------

export interface BashView {
  command: string;
  /** The exit status: 0 when it succeeded, the CLI's "Exit code N" when it failed, null when unknown. */
  exit: number | null;
  output: string;
}

export function bashView(call: ToolCall): BashView | null {
  if (call.name !== "Bash") return null;
  const input = toolInput(call);
  const command = typeof input?.command === "string" ? input.command : call.input_summary;
  const result = cleanResult(call.result_summary);
  let exit: number | null = null;
  const match = /^(?:Error: )?Exit code (\d+)\s*\n?/.exec(result);
  if (match) exit = Number(match[1]);
  else if (call.outcome === "ok") exit = 0;
  const output = match ? result.slice(match[0].length) : result;
  return { command, exit, output };
}

// -- task lists ------------------------------------------------------------------------------------

export type TaskStatus = "pending" | "in_progress" | "completed";

export interface Task {
  id: string;
  text: string;
  status: TaskStatus;
}

export const TASK_TOOLS = new Set(["TodoWrite", "TaskCreate", "TaskUpdate"]);

function asStatus(value: unknown): TaskStatus | null {
  return value === "pending" || value === "in_progress" || value === "completed" ? value : null;
}

/** The task list after each call of a reply (or a conversation), by call id: TodoWrite replaces the whole
 * list; TaskCreate adds one (its id from the result "Task #N created successfully"); TaskUpdate changes
 * one's status or subject (status "deleted" removes it). Calls that failed change nothing. */
export function taskLists(calls: readonly ToolCall[]): Map<string, Task[]> {
  const after = new Map<string, Task[]>();
  let tasks: Task[] = [];
  for (const call of calls) {
    if (!TASK_TOOLS.has(call.name)) continue;
    const input = toolInput(call) ?? {};
    if (call.outcome === "error" || call.outcome === "denied") {
      after.set(call.id, tasks);
      continue;
    }
    if (call.name === "TodoWrite" && Array.isArray(input.todos)) {
      tasks = (input.todos as Record<string, unknown>[]).map((t, i) => ({
        id: String(t?.id ?? i + 1),
        text: String(t?.content ?? t?.subject ?? ""),
        status: asStatus(t?.status) ?? "pending",
      }));
    } else if (call.name === "TaskCreate") {
      const id = /Task #(\S+) created/.exec(call.result_summary)?.[1] ?? `new-${call.id}`;
      tasks = [...tasks, { id, text: String(input.subject ?? input.description ?? ""), status: "pending" }];
    } else if (call.name === "TaskUpdate" && typeof input.taskId === "string") {
      const id = input.taskId;
      if (input.status === "deleted") tasks = tasks.filter((t) => t.id !== id);
      else
        tasks = tasks.map((t) =>
          t.id === id ? { ...t, status: asStatus(input.status) ?? t.status, text: typeof input.subject === "string" ? input.subject : t.text } : t,
        );
    }
    after.set(call.id, tasks);
  }
  return after;
}
