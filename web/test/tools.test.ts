import { describe, expect, it } from "vitest";
import type { ToolCall } from "../src/api";
import { bashView, callStatus, cleanResult, deniedBy, fileDiffs, lineDiff, relativePath, segments, taskLists, toolTarget, type PlacedCall } from "../src/tools";

function call(name: string, input: unknown, overrides: Partial<PlacedCall> = {}): PlacedCall {
  return { id: `toolu_${name}`, name, input_summary: JSON.stringify(input), outcome: "ok", result_summary: "", duration_ms: 5, text_offset: null, decision: null, ...overrides };
}

describe("segments: tool cards where they happened", () => {
  it("cuts the text at each call's offset, in order", () => {
    const text = "Using Read.\n\nUsing Edit.\n\nEdited a.txt.";
    const read = call("Read", {}, { id: "r", text_offset: 11 });
    const edit = call("Edit", {}, { id: "e", text_offset: 24 });
    const parts = segments(text, [edit, read]);
    expect(parts.map((p) => (p.kind === "text" ? p.text : `[${p.call.id}]`))).toEqual(["Using Read.", "[r]", "Using Edit.", "[e]", "Edited a.txt."]);
  });

  it("puts calls without an offset first and offsets past the text at the end", () => {
    const parts = segments("Short.", [call("Write", {}, { id: "w", text_offset: 500 }), call("Read", {}, { id: "old" })]);
    expect(parts.map((p) => (p.kind === "text" ? p.text : p.call.id))).toEqual(["old", "Short.", "w"]);
  });

  it("counts offsets in code points, as the server does", () => {
    const text = "😀 done\n\nafter";
    const parts = segments(text, [call("Read", {}, { id: "r", text_offset: 6 })]);
    expect(parts.map((p) => (p.kind === "text" ? p.text : p.call.id))).toEqual(["😀 done", "r", "after"]);
  });

  it("has no empty text pieces (two calls in a row, nothing written yet)", () => {
    const parts = segments("", [call("Read", {}, { id: "a", text_offset: 0 }), call("Read", {}, { id: "b", text_offset: 0 })]);
    expect(parts.map((p) => p.kind)).toEqual(["tool", "tool"]);
  });
});

describe("what a card shows", () => {
  it("says a call held for the person's answer waits for them, and runs once allowed", () => {
    const held = call("Bash", { command: "echo hi" }, { outcome: "pending" });
    expect(callStatus(held, true)).toEqual({ label: "Waiting for you", kind: "warn" });
    expect(callStatus(held, false)).toEqual({ label: "Running", kind: "live" });
    expect(callStatus(call("Bash", {}, { outcome: "ok" }), true)).toEqual({ label: "Done", kind: "ok" }); // finished: as it ended
    expect(callStatus(call("Bash", {}, { outcome: "denied" }), false)).toEqual({ label: "Denied", kind: "error" });
  });

  it("shows paths relative to the workspace", () => {
    expect(relativePath("/srv/ws/notes/a.md", "/srv/ws")).toBe("notes/a.md");
    expect(relativePath("/srv/wsx/a.md", "/srv/ws/")).toBe("/srv/wsx/a.md");
    expect(toolTarget(call("Write", { file_path: "/srv/ws/a.md", content: "x" }), "/srv/ws")).toBe("a.md");
    expect(toolTarget(call("Bash", { command: "ls /srv/ws" }), "/srv/ws")).toBe("ls /srv/ws");
  });

  it("removes <tool_use_error> tags", () => {
    expect(cleanResult("<tool_use_error>File does not exist.</tool_use_error>")).toBe("File does not exist.");
  });

  it("says who denied a call", () => {
    expect(deniedBy(call("Bash", {}, { outcome: "denied", result_summary: "Bash is not allowed by Blu's tool policy." }))).toBe("Denied by Blu's tool policy");
    expect(deniedBy(call("Bash", {}, { outcome: "denied", result_summary: "Permission to use Bash has been denied." }))).toBe(
      "Denied by Claude Code's permission settings",
    );
  });

  it("takes who denied a call from its recorded decision, not the reason's words", () => {
    const byPerson = { outcome: "denied" as const, result_summary: "Permission denied by the person." };
    expect(deniedBy(call("Bash", {}, { ...byPerson, decision: "denied by person" }))).toBe("Denied by you");
    expect(deniedBy(call("Bash", {}, { ...byPerson, decision: "denied by person (answered earlier)" }))).toBe("Denied by you");
    // The decision wins over words that would suggest someone else.
    expect(deniedBy(call("Bash", {}, { outcome: "denied", result_summary: "you can't", decision: "denied by policy" }))).toBe("Denied by Blu's tool policy");
    // A record without a decision (older ones) still reads Blu's own denial text.
    expect(deniedBy(call("Bash", {}, byPerson))).toBe("Denied by you");
  });

  it("reads a Bash call's exit status and output", () => {
    expect(bashView(call("Bash", { command: "ls" }, { result_summary: "a\nb" }))).toEqual({ command: "ls", exit: 0, output: "a\nb" });
    expect(bashView(call("Bash", { command: "false" }, { outcome: "error", result_summary: "Exit code 2\nboom" }))).toEqual({ command: "false", exit: 2, output: "boom" });
    expect(bashView(call("Bash", { command: "x" }, { outcome: "pending" }))?.exit).toBeNull();
    expect(bashView(call("Read", {}))).toBeNull();
  });
});

describe("lineDiff", () => {
  it("keeps common lines and marks what changed", () => {
    expect(lineDiff("a\nb\nc", "a\nB\nc\nd")).toEqual([
      { kind: "same", text: "a" },
      { kind: "del", text: "b" },
      { kind: "add", text: "B" },
      { kind: "same", text: "c" },
      { kind: "add", text: "d" },
    ]);
  });

  it("shows a new file as added lines and handles empty sides", () => {
    expect(lineDiff("", "x\ny")).toEqual([
      { kind: "add", text: "x" },
      { kind: "add", text: "y" },
    ]);
    expect(lineDiff("x", "")).toEqual([{ kind: "del", text: "x" }]);
  });

  it("gives Edit, MultiEdit and Write their diffs; other tools none", () => {
    expect(fileDiffs(call("Edit", { file_path: "a", old_string: "world", new_string: "there" }))).toEqual([
      [
        { kind: "del", text: "world" },
        { kind: "add", text: "there" },
      ],
    ]);
    expect(fileDiffs(call("MultiEdit", { file_path: "a", edits: [{ old_string: "1", new_string: "2" }, { old_string: "3", new_string: "3" }] }))).toHaveLength(2);
    expect(fileDiffs(call("Write", { file_path: "a", content: "hi" }))).toEqual([[{ kind: "add", text: "hi" }]]);
    expect(fileDiffs(call("Read", { file_path: "a" }))).toBeNull();
    expect(fileDiffs({ ...call("Edit", {}), input_summary: '{"file_path": "a", "old_string": "cut…' })).toBeNull();
  });
});

describe("task lists", () => {
  it("TodoWrite replaces the list", () => {
    const first = call("TodoWrite", { todos: [{ content: "Plan", status: "in_progress" }, { content: "Ship", status: "pending" }] }, { id: "t1" });
    const second = call("TodoWrite", { todos: [{ content: "Plan", status: "completed" }, { content: "Ship", status: "in_progress" }] }, { id: "t2" });
    const lists = taskLists([first, call("Read", {}), second]);
    expect(lists.get("t1")?.map((t) => t.status)).toEqual(["in_progress", "pending"]);
    expect(lists.get("t2")?.map((t) => [t.text, t.status])).toEqual([
      ["Plan", "completed"],
      ["Ship", "in_progress"],
    ]);
    expect(lists.has("toolu_Read")).toBe(false);
  });

  it("TaskCreate and TaskUpdate keep a list by task id", () => {
    const calls = [
      call("TaskCreate", { subject: "Plan", description: "Plan" }, { id: "c1", result_summary: "Task #1 created successfully: Plan" }),
      call("TaskCreate", { subject: "Build", description: "Build" }, { id: "c2", result_summary: "Task #2 created successfully: Build" }),
      call("TaskUpdate", { taskId: "1", status: "completed" }, { id: "u1" }),
      call("TaskUpdate", { taskId: "2", status: "in_progress" }, { id: "u2", outcome: "error" }),
      call("TaskUpdate", { taskId: "2", status: "deleted" }, { id: "u3" }),
    ];
    const lists = taskLists(calls);
    expect(lists.get("c2")?.map((t) => t.id)).toEqual(["1", "2"]);
    expect(lists.get("u1")?.map((t) => t.status)).toEqual(["completed", "pending"]);
    expect(lists.get("u2")?.map((t) => t.status)).toEqual(["completed", "pending"]); // the failed update changed nothing
    expect(lists.get("u3")?.map((t) => t.text)).toEqual(["Plan"]);
  });
});

export type { ToolCall };
