import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import { finished, RESTARTED, restoreQuestion } from "../src/backups";
import type { components } from "../src/generated/api";

type Schemas = components["schemas"];

const snapshot: Schemas["Snapshot"] = {
  id: "20261130T100000Z-00000001",
  created_at: 1795000000,
  size: 4096,
  reason: "manual",
  blu_version: "0.1.0",
  total_bytes: 9000,
  contents: { store: { session: 1, message: 2 }, workspace: { files: 1, bytes: 5 }, state: { files: 7, bytes: 8995 } },
  sessions: [],
  skipped: 0,
};

describe("the question before restoring everything", () => {
  it("counts the person's files apart from Claude's own state, never adding them up", () => {
    const preview: Schemas["AllPreview"] = {
      scope: "all",
      snapshot,
      current: { sessions: 2, workspace: { files: 3, bytes: 2048 }, state: { files: 40, bytes: 90000 } },
      sessions_removed: [{ id: "b".repeat(24), name: "Later" }],
      sessions_restored: [],
      sessions_rewound: ["a".repeat(24)],
    };
    const question = restoreQuestion(snapshot, preview);
    expect(question).toContain("It brings back 1 session (2 messages) and 1 file in your workspace (5 B).");
    expect(question).toContain("It replaces everything here now: 2 sessions and 3 files in your workspace (2.0 KB)");
    expect(question).toContain("Claude's own state (its conversation transcripts, memory and settings)");
    expect(question).toContain("1 session made since would go.");
    expect(question).not.toMatch(/\b(40|43|7|8) files?\b/); // Claude's files are never counted as the person's
  });
});

describe("following a snapshot or a restore while Blu restarts", () => {
  type Answer = Schemas["CurrentOperation"];
  const running: Answer = { operation: { kind: "restore", state: "running", started_at: 1, result: null, error: null } as never };
  const waits: number[] = [];
  const wait = async (ms: number): Promise<void> => {
    waits.push(ms);
  };

  function reader(...answers: (Answer | Error)[]): () => Promise<Answer> {
    return async () => {
      const next = answers.shift();
      if (next === undefined) throw new Error("read once too often");
      if (next instanceof Error) throw next;
      return next;
    };
  }

  it("waits through a refused connection and a starting server, then says Blu restarted", async () => {
    const status = { textContent: "" } as HTMLElement;
    const read = reader(running, new TypeError("Failed to fetch"), new ApiError(503, "starting"), { operation: null });
    expect(await finished(status, read, wait)).toBe(RESTARTED);
    expect(status.textContent).toBe("Blu is restarting…");
  });

  it("answers the operation's end as before when nothing restarted, and gives up on a real refusal", async () => {
    const status = { textContent: "" } as HTMLElement;
    const done = { kind: "restore", state: "done", started_at: 1, result: null, error: null } as never;
    expect(await finished(status, reader(running, { operation: done }), wait)).toBe(done);
    expect(await finished(status, reader({ operation: null }), wait)).toBeNull();
    await expect(finished(status, reader(new ApiError(401, "log in")), wait)).rejects.toThrow("log in");
  });
});
