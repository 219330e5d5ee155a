// GFM task lists keep their state without an input element (the sanitizer forbids inputs in model output).
import { describe, expect, it } from "vitest";
import { markdownHtml, taskMark } from "../src/markdown-html";

describe("task lists", () => {
  it("marks done and open items differently, with a name a screen reader reads", () => {
    const html = markdownHtml("- [ ] write the tests\n- [x] fix the bug\n- plain item");
    expect(html).not.toContain("<input");
    expect(html).toContain(`<li>${taskMark(false)}write the tests</li>`);
    expect(html).toContain(`<li>${taskMark(true)}fix the bug</li>`);
    expect(html).toContain("<li>plain item</li>");
    expect(taskMark(true)).toContain('role="img" aria-label="Done"');
    expect(taskMark(false)).toContain('role="img" aria-label="Not done"');
    expect(taskMark(true)).not.toEqual(taskMark(false));
  });

  it("keeps the mark in a loose list and leaves a bracket that is no task as text", () => {
    const loose = markdownHtml("- [x] first\n\n- [ ] second");
    expect(loose).toContain(taskMark(true));
    expect(loose).toContain(taskMark(false));
    expect(markdownHtml("a [x] in a sentence")).toBe("<p>a [x] in a sentence</p>\n");
  });
});
