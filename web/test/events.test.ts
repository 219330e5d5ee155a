import { describe, expect, it } from "vitest";
import schema from "../../docs/openapi.json";
import { EVENT_TYPES } from "../src/events";

describe("the event types", () => {
  it("are exactly the members of the schema's event union", () => {
    const events = schema.components.schemas.EventsPage.properties.events as { items: { discriminator: { mapping: Record<string, string> } } };
    const served = Object.keys(events.items.discriminator.mapping);
    expect(served.length).toBeGreaterThan(0);
    expect(new Set(served)).toEqual(EVENT_TYPES);
  });
});
