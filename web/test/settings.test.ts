import { describe, expect, it } from "vitest";
import { PLANNED, registerSection, sections, SHORTCUTS } from "../src/settings";
import { storedTheme } from "../src/theme";

describe("the settings registry", () => {
  it("lists the built-in sections first and every planned one, not available until registered", () => {
    const all = sections();
    expect(all.slice(0, 2).map((s) => s.id)).toEqual(["appearance", "shortcuts"]);
    for (const planned of PLANNED) expect(all.find((s) => s.id === planned.id)?.render).toBeNull();
  });

  it("lets a feature add its section in one place, replacing the placeholder", () => {
    registerSection({ id: "memory", title: "Memory", order: 40, render: (body) => void body });
    const memory = sections().find((s) => s.id === "memory");
    expect(memory?.render).toBeTypeOf("function");
    expect(sections().filter((s) => s.id === "memory")).toHaveLength(1);
    registerSection({ id: "zeta", title: "Zeta", order: 45, render: () => undefined });
    const ids = sections().map((s) => s.id);
    expect(ids.indexOf("zeta")).toBe(ids.indexOf("memory") + 1);
  });

  it("names the shortcuts, `?` among them", () => {
    expect(SHORTCUTS.map(([keys]) => keys)).toContain("?");
  });
});

describe("the stored theme", () => {
  const storage = (value: string | null) => ({ getItem: () => value });
  it("is light or dark when chosen, else the system's", () => {
    expect(storedTheme(storage("dark"))).toBe("dark");
    expect(storedTheme(storage("light"))).toBe("light");
    expect(storedTheme(storage("purple"))).toBe("system");
    expect(storedTheme(storage(null))).toBe("system");
    expect(storedTheme(null)).toBe("system");
  });
});
