import { describe, expect, it } from "vitest";
import { keyboardInset } from "../src/phone";

describe("keyboardInset", () => {
  it("is what the keyboard covers below the visual viewport", () => {
    expect(keyboardInset(844, { height: 844, offsetTop: 0 })).toBe(0);
    expect(keyboardInset(844, { height: 500, offsetTop: 0 })).toBe(344);
    // The page scrolled up inside the visual viewport: the part above counts too.
    expect(keyboardInset(844, { height: 500, offsetTop: 40 })).toBe(304);
  });

  it("is never negative, and zero without visualViewport", () => {
    expect(keyboardInset(800, { height: 820, offsetTop: 0 })).toBe(0);
    expect(keyboardInset(800, null)).toBe(0);
  });
});
