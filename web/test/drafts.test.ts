import { describe, expect, it } from "vitest";
import { carryDraft, type DraftStore, keepUnsent, loadDraft, loadDraftFiles, saveDraft, saveDraftFiles } from "../src/drafts";

function memory(): DraftStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe("drafts", () => {
  it("keeps one draft per session and one for the new chat; blank text forgets it", () => {
    const store = memory();
    saveDraft("a", "half a thought", store);
    saveDraft(null, "new chat text", store);
    expect(loadDraft("a", store)).toBe("half a thought");
    expect(loadDraft("b", store)).toBe("");
    expect(loadDraft(null, store)).toBe("new chat text");
    saveDraft("a", "  \n", store);
    expect(loadDraft("a", store)).toBe("");
    expect(store.data.size).toBe(1);
  });

  it("moves a gone session's draft and unsent text to the new chat, after what was there", () => {
    const store = memory();
    saveDraft("a", "typed", store);
    expect(carryDraft("a", "not sent", {}, store)).toBe("typed\n\nnot sent");
    expect(loadDraft("a", store)).toBe("");
    saveDraft("b", "more", store);
    expect(carryDraft("b", "", {}, store)).toBe("typed\n\nnot sent\n\nmore");
    expect(loadDraft(null, store)).toBe("typed\n\nnot sent\n\nmore");
  });

  it("does not repeat text that is both the draft and the unsent message", () => {
    const store = memory();
    saveDraft("a", "same", store);
    expect(carryDraft("a", "same", {}, store)).toBe("same");
  });

  it("works without storage (blocked): nothing is kept", () => {
    saveDraft("a", "x", null);
    expect(loadDraft("a", null)).toBe("");
    const throwing: DraftStore = {
      getItem: () => { throw new Error("blocked"); },
      setItem: () => { throw new Error("blocked"); },
      removeItem: () => { throw new Error("blocked"); },
    };
    expect(loadDraft("a", throwing)).toBe("");
    expect(() => saveDraft("a", "x", throwing)).not.toThrow();
  });

  it("puts a refused message back in its session's draft, before what was typed since, once", () => {
    const store = memory();
    expect(keepUnsent("a", "refused", {}, store)).toBe("refused");
    saveDraft("a", "refused\n\ntyped after", store);
    expect(keepUnsent("a", "another", {}, store)).toBe("another\n\nrefused\n\ntyped after");
    expect(keepUnsent(null, "for a new chat", {}, store)).toBe("for a new chat");
    expect(loadDraft(null, store)).toBe("for a new chat");
    saveDraft("b", "same", store);
    expect(keepUnsent("b", "same", {}, store)).toBe("same");
  });

  it("keeps a refused message's attachments with its text, and carries a gone session's to the new chat", () => {
    const store = memory();
    saveDraftFiles("a", { "uploads/typed-since.txt": "file" }, store);
    keepUnsent("a", "with a photo", { "uploads/photo.png": "image/png" }, store);
    expect(loadDraftFiles("a", store)).toEqual({ "uploads/photo.png": "image/png", "uploads/typed-since.txt": "file" });
    expect(loadDraftFiles("b", store)).toEqual({});
    carryDraft("a", "", { "uploads/late.pdf": "file" }, store);
    expect(loadDraftFiles("a", store)).toEqual({});
    expect(Object.keys(loadDraftFiles(null, store)).sort()).toEqual(["uploads/late.pdf", "uploads/photo.png", "uploads/typed-since.txt"]);
    saveDraftFiles(null, {}, store);
    expect(store.data.has("blu.draft-files.new")).toBe(false);
    store.data.set("blu.draft-files.x", "not json");
    expect(loadDraftFiles("x", store)).toEqual({});
  });
});
