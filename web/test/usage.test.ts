import { describe, expect, it } from "vitest";
import { sessionUsageText, usageText } from "../src/format";

describe("a reply's usage line", () => {
  it("gives input, output and cost for a finished reply", () => {
    expect(usageText({ input_tokens: 1200, output_tokens: 340, cost_usd: 0.004, state: "complete" }).text).toBe("1.2k in · 340 out · $0.0040");
  });

  it("never shows a made-up output count for a stopped reply", () => {
    const none = usageText({ input_tokens: 1200, output_tokens: 0, cost_usd: 0.004, state: "interrupted" });
    expect(none.text).toBe("1.2k in · output not counted · $0.0040");
    expect(none.title).toContain("not known");
    // Calls that finished before the stop were counted: at least that many.
    expect(usageText({ input_tokens: 1200, output_tokens: 340, cost_usd: 0.004, state: "interrupted" }).text).toBe("1.2k in · 340+ out · $0.0040");
  });

  it("never shows a made-up $0 for a reply that ended before Claude reported its cost", () => {
    // Blu was killed mid-reply: the input was counted from the call's start, the cost never came.
    const killed = usageText({ input_tokens: 4300, output_tokens: 0, cost_usd: 0, state: "interrupted" });
    expect(killed.text).toBe("4.3k in · output not counted · cost not counted");
    expect(killed.title).toContain("cost not known");
    expect(usageText({ input_tokens: 4300, output_tokens: 50, cost_usd: 0, state: "interrupted" }).text).toBe("4.3k in · 50+ out · cost not counted");
  });

  it("is empty before any usage", () => {
    expect(usageText({ input_tokens: 0, output_tokens: 0, cost_usd: 0, state: "running" }).text).toBe("");
  });

  it("shows a running reply's figures so far and no made-up 0 out or $0", () => {
    const running = usageText({ input_tokens: 4300, output_tokens: 0, cost_usd: 0, state: "running" });
    expect(running.text).toBe("4.3k in · …");
    expect(running.title).toContain("reported as the reply ends");
    expect(usageText({ input_tokens: 4300, output_tokens: 120, cost_usd: 0, state: "running" }).text).toBe("4.3k in · 120 out · …");
    expect(usageText({ input_tokens: 4300, output_tokens: 120, cost_usd: 0.004, state: "complete" }).text).toBe("4.3k in · 120 out · $0.0040");
  });
});

describe("the session header's totals", () => {
  const totals = { input_tokens: 4300, output_tokens: 0, cost_usd: 0.018, stopped_replies: 0 };

  it("are marked as the footer marks a stopped reply: never a made-up output count", () => {
    expect(sessionUsageText({ ...totals, stopped_replies: 1 }).text).toBe("4.3k in · output not counted · $0.018+");
    expect(sessionUsageText({ ...totals, output_tokens: 94, stopped_replies: 2 }).text).toBe("4.3k in · 94+ out · $0.018+");
    expect(sessionUsageText({ ...totals, output_tokens: 94, stopped_replies: 1 }).title).toContain("not known");
  });

  it("mark the cost as a lower bound once a stopped reply is in it, and never a made-up $0", () => {
    expect(sessionUsageText({ ...totals, output_tokens: 94, stopped_replies: 1 }).text).toBe("4.3k in · 94+ out · $0.018+");
    expect(sessionUsageText({ ...totals, output_tokens: 94, stopped_replies: 1 }).title).toContain("at least $0.018");
    expect(sessionUsageText({ ...totals, cost_usd: 0, stopped_replies: 1 }).text).toBe("4.3k in · output not counted · cost not counted");
  });

  it("give plain counts when every reply was counted, and nothing before any usage is reported", () => {
    expect(sessionUsageText({ ...totals, output_tokens: 94 }).text).toBe("4.3k in · 94 out · $0.018");
    expect(sessionUsageText({ input_tokens: 0, output_tokens: 0, cost_usd: 0, stopped_replies: 0 }).text).toBe("");
  });
});
