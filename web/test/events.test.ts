import { describe, expect, it } from "vitest";
import protocol from "../../docs/protocol.md?raw";
import { EVENT_TYPES } from "../src/events";

describe("the event types", () => {
  it("are exactly the events docs/protocol.md lists", () => {
    const table = protocol.slice(protocol.indexOf("| type | data |"));
    const documented = [...table.slice(0, table.indexOf("\n\n")).matchAll(/^\| `([a-z.]+)` \|/gm)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(0);
    expect(new Set(documented)).toEqual(EVENT_TYPES);
  });
});
