import { describe, expect, it } from "vitest";
import { storedName } from "../src/approvals";

describe("the tool policy dialog", () => {
  it("names an entry as the server stored it, not as it was typed", () => {
    const policy = { run_time: { Bash: "ask" as const, mcp__github: "deny" as const } };
    expect(storedName(policy, "bash")).toBe("Bash");
    expect(storedName(policy, "mcp__github")).toBe("mcp__github");
    expect(storedName({ run_time: { bash: "ask" as const, Bash: "allow" as const } }, "bash")).toBe("bash"); // exact first
    expect(storedName(policy, "Read")).toBe("Read"); // not stored (removed): as typed
  });
});
