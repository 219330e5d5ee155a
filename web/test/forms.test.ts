// What the Memory dialog and the Schedules form say after a refused save (pure functions of their modules).
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import type { MemoryState } from "../src/memory";
import { memoryStatus } from "../src/memory-status";
import { errorField, errorText } from "../src/schedules";

function memory(etag: string, version: MemoryState["version"]): MemoryState {
  return { content: "", etag, version, max_chars: 100_000, path: "/claude/CLAUDE.md" } as MemoryState;
}

describe("memoryStatus: the Memory dialog's status line", () => {
  const now = Date.now() / 1000;
  const empty = memory("e0", null);
  const theirs = memory("e1", { id: "v1", etag: "e1", at: now, author: "you", size: 9 } as MemoryState["version"]);

  it("says what was loaded and whether the editor's text is saved", () => {
    expect(memoryStatus(empty, null, false)).toBe("Empty: nothing saved yet.");
    expect(memoryStatus(empty, null, true)).toBe("Unsaved changes. Empty: nothing saved yet.");
    expect(memoryStatus(theirs, null, false)).toMatch(/^Saved .* by You\.$/);
  });

  it("after a refused save, says the memory changed and what it is now, not what it was", () => {
    const line = memoryStatus(empty, theirs, true, true);
    expect(line).not.toContain("Empty");
    expect(line).toMatch(/^Not saved: the memory changed meanwhile\. It is now saved .* by You\.$/);
    expect(memoryStatus(theirs, empty, true, true)).toBe("Not saved: the memory changed meanwhile. It is now empty.");
  });

  it("after a change elsewhere met unsaved edits (no save tried), says only that the text is unsaved and what the memory is now", () => {
    const line = memoryStatus(empty, theirs, true);
    expect(line).not.toContain("Not saved");
    expect(line).toMatch(/^Unsaved changes\. Saved .* by You\.$/);
    expect(memoryStatus(theirs, empty, true)).toBe("Unsaved changes. Empty: nothing saved yet.");
  });
});

describe("errorField: which schedule field a refused save is about", () => {
  it("takes the field a 422 names", () => {
    const invalid = (field: string) => errorField(422, { detail: [{ loc: ["body", field], msg: "too big", type: "less_than_equal" }] });
    expect(invalid("max_usd")).toBe("maxUsd");
    expect(invalid("max_minutes")).toBe("maxMinutes");
    expect(invalid("session_id")).toBe("session");
    expect(invalid("run_at")).toBe("runAt");
    expect(invalid("unknown")).toBeNull();
    expect(errorField(400, { detail: "Something else went wrong." })).toBeNull();
    expect(errorField(500, null)).toBeNull();
  });
});

describe("errorText: a refused save in the form's words", () => {
  const label = (field: string) => ({ repeat: "Repeat", runAt: "Date and time", maxMinutes: "Stop after (minutes)" })[field] ?? "?";
  const refused = (...detail: { loc: string[]; msg: string }[]) => new ApiError(422, "", 0, { detail: detail.map((d) => ({ ...d, type: "value_error" })) });

  it("names each refused field by its label, never by the API's name", () => {
    const text = errorText(refused({ loc: ["body", "repeat"], msg: "Say when it repeats." }, { loc: ["body", "max_minutes"], msg: "too big" }), label);
    expect(text).toBe("Repeat: Say when it repeats. Stop after (minutes): too big.");
    expect(errorText(refused({ loc: ["body", "run_at"], msg: "Choose the date and time it runs." }), label)).toBe("Date and time: Choose the date and time it runs.");
    expect(errorText(refused({ loc: ["body"], msg: "Field required" }), label)).toBe("Field required.");
    expect(errorText(new ApiError(400, "The sentence."), label)).toBe("The sentence.");
    expect(errorText(new Error("x"), label)).toBe("Couldn't save the schedule.");
  });
});
