import { describe, expect, it } from "vitest";
import { shownName, uploadPath } from "../src/attachments";

describe("attachment paths", () => {
  it("go into uploads/ under a dated, random prefix with a name the workspace accepts", () => {
    const path = uploadPath("../my photo.png", new Date("2026-11-30T00:10:21Z"));
    expect(path).toMatch(/^uploads\/20261130-001021-[0-9a-f]{4}-_my photo\.png$/);
    expect(uploadPath(".hidden")).toMatch(/-hidden$/);
    expect(uploadPath("")).toMatch(/-file$/);
  });

  it("show the name the person gave", () => {
    expect(shownName(uploadPath("report.pdf"))).toBe("report.pdf");
    expect(shownName("uploads/plain.txt")).toBe("plain.txt");
  });
});
