// What the Memory dialog and the Schedules form say after a refused save (pure functions of their modules).
import { describe, expect, it } from "vitest";
import type { MemoryState } from "../src/memory";
import { memoryStatus } from "../src/memory-status";
import { errorField } from "../src/schedules";

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
  const refused = (detail: string) => errorField(400, { detail });

  it("reads the server's sentences", () => {
    expect(refused("Unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/Berlin' or 'UTC'.")).toBe("timezone");
    expect(refused("A one-shot's zone changes with its time: send run_at too.")).toBe("timezone");
    expect(refused("That time has passed: choose a time in the future.")).toBe("runAt");
    expect(refused("'tomorrow' is not a date and time such as '2026-12-01T08:00'.")).toBe("runAt");
    expect(refused("Blu cannot read the repeat 'now and then'. Write it like: every weekday at 08:00.")).toBe("when");
    expect(refused("'0 8 * *' is not a cron expression Blu accepts: five fields, minute hour day-of-month month day-of-week, e.g. '0 8 * * 1-5'.")).toBe("when");
    expect(refused("This runs every 5 minutes; schedules may run at most every 15 minutes (BLU_SCHEDULE_MIN_INTERVAL_MINUTES).")).toBe("when");
    expect(refused("Say when: exactly one of cron, repeat or run_at.")).toBe("when");
    expect(refused("The chosen session does not exist.")).toBe("session");
    expect(refused("The prompt is empty.")).toBe("prompt");
    expect(refused("Something else went wrong.")).toBeNull();
  });

  it("takes the field a 422 names", () => {
    const invalid = (field: string) => errorField(422, { detail: [{ loc: ["body", field], msg: "too big", type: "less_than_equal" }] });
    expect(invalid("max_usd")).toBe("maxUsd");
    expect(invalid("max_minutes")).toBe("maxMinutes");
    expect(invalid("session_id")).toBe("session");
    expect(invalid("unknown")).toBeNull();
    expect(errorField(500, null)).toBeNull();
  });
});
