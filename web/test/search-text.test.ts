import { describe, expect, it } from "vitest";
import { matchRanges, searchTerms } from "../src/search-text";

const marked = (text: string, query: string) => {
  let out = "";
  let at = 0;
  for (const [start, end] of matchRanges(text, searchTerms(query))) {
    out += `${text.slice(at, start)}[${text.slice(start, end)}]`;
    at = end;
  }
  return out + text.slice(at);
};

describe("search highlighting", () => {
  it("takes the query's words folded, without repeats", () => {
    expect(searchTerms("Café, CAFÉ and  tea!")).toEqual(["cafe", "and", "tea"]);
    expect(searchTerms("  ?! ")).toEqual([]);
  });

  it("marks word starts that match, ignoring case and accents", () => {
    expect(marked("The Riverside Café opens; cafeteria too", "cafe")).toBe("The Riverside [Café] opens; [cafe]teria too");
    expect(marked("a ferry to the ferris wheel", "ferr wheel")).toBe("a [ferr]y to the [ferr]is [wheel]");
  });

  it("never marks inside a word", () => {
    expect(marked("the berry", "erry")).toBe("the berry");
  });

  it("keeps positions right around characters outside the basic plane", () => {
    expect(marked("😀 ok Ünïcode", "unic")).toBe("😀 ok [Ünïc]ode");
  });
});
