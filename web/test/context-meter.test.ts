import { describe, expect, it } from "vitest";
import { contextShare, handoffNote } from "../src/context-meter";
import { record, session } from "./fixtures";

describe("the context meter", () => {
  it("is the last request's tokens over the window, unknown before a turn reported them", () => {
    expect(contextShare(session({ context_tokens: 170_000, context_window: 200_000 }))).toBeCloseTo(0.85);
    expect(contextShare(session())).toBeNull();
    expect(contextShare(session({ context_tokens: 5, context_window: null }))).toBeNull();
    expect(contextShare(null)).toBeNull();
  });

  it("hands over the old session's name, its last message, the start of the last reply and a link", () => {
    const long = "word ".repeat(300);
    const note = handoffNote(
      session({ id: "abc", name: "Trip planning" }),
      [
        record("m1", { role: "user", text: "first question" }),
        record("m2", { role: "assistant", text: "first answer" }),
        record("m3", { role: "user", text: "Which train\non Friday?" }),
        record("m4", { role: "assistant", text: long }),
      ],
      "https://blu.example",
    );
    expect(note).toContain("“Trip planning” (https://blu.example/#/s/abc)");
    expect(note).toContain("- My last message: “Which train on Friday?”");
    expect(note).not.toContain("first question");
    const reply = /Your last reply began: “(.*)”/.exec(note)![1]!;
    expect(reply.endsWith("…")).toBe(true);
    expect(reply.length).toBeLessThan(long.length);
  });
});
