// Attachments in the composer and in messages. Images and files pasted, dropped or picked are saved in
// the workspace's `uploads/` folder at once (large files take the direct path of the files API); when
// the message is sent their paths go with it, and Blu sends images to Claude as image content and names
// other files by path. Both show as chips with a preview, in the composer and in the sent message.
import { api, ApiError, sendToTarget } from "./api";
import { h } from "./dom";
import { formatBytes } from "./format";
import { icon } from "./icons";
import "./attachments.css";

/** The Messages API's limit for one image; larger images are refused before they are sent. */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
export const MAX_ATTACHMENTS = 10;
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export interface AttachmentOptions {
  maxUploadBytes: number;
  directTransferBytes: number;
  toast(text: string, kind?: "info" | "error"): void;
}

interface Pending {
  /** The name the person gave the file. */
  readonly name: string;
  /** Its image type, or "file" (what the sent message records). */
  readonly kind: string;
  readonly path: string;
  readonly chip: HTMLElement;
  /** An object URL of the picked image, revoked when it leaves the tray. */
  readonly preview: string | null;
  done: Promise<boolean>;
}

/** Where a draft's attachments are kept (web/src/drafts.ts): read when the tray is attached, written as the
 * uploaded files in it change. */
export interface TrayDraft {
  load(): Record<string, string>;
  save(files: Record<string, string>): void;
}

const isImage = (type: string) => IMAGE_TYPES.has(type);

/** `uploads/<date time>-<4 hex>-<name>`: a name of the workspace's rules (no slashes, no leading dot). */
export function uploadPath(name: string, now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  const random = Array.from(crypto.getRandomValues(new Uint8Array(2)), (b) => b.toString(16).padStart(2, "0")).join("");
  const clean = name.replace(/[\\/\u0000-\u001f\u007f]/g, "_").replace(/^[.\s]+|\s+$/g, "").slice(0, 120) || "file";
  return `uploads/${stamp}-${random}-${clean}`;
}

function chip(name: string, detail: string, preview: string | null): HTMLElement {
  return h(
    "span",
    { class: "attachment", "data-testid": "attachment" },
    preview ? h("img", { class: "attachment__preview", src: preview, alt: "" }) : h("span", { class: "attachment__file" }, icon("file", 22)),
    h("span", { class: "attachment__name", dir: "auto" }, name),
    h("span", { class: "attachment__detail" }, detail),
  );
}

/** The composer's tray: the Attach button, paste and drop on the composer, the chips of what will be sent. */
export class AttachmentTray {
  readonly element: HTMLElement;
  private readonly chips = h("div", { class: "attachments", "data-testid": "attachment-tray" });
  private readonly input = h("input", { type: "file", multiple: true, class: "sr-only", "data-testid": "attach-input", tabindex: "-1" });
  private pending: Pending[] = [];
  private readonly button: HTMLButtonElement;
  private draft: TrayDraft | null = null;

  constructor(private readonly options: AttachmentOptions) {
    this.input.addEventListener("change", () => {
      this.add(Array.from(this.input.files ?? []));
      this.input.value = "";
    });
    const limits = `Images up to ${formatBytes(MAX_IMAGE_BYTES)} go to Claude; other files up to ${formatBytes(options.maxUploadBytes)} are saved in uploads/. At most ${MAX_ATTACHMENTS}.`;
    const button = h(
      "button",
      { type: "button", class: "button button--icon composer__attach", "aria-label": "Attach images or files", title: limits, "data-testid": "attach-button", onclick: () => this.input.click() },
      icon("paperclip", 20),
    );
    this.button = button;
    this.element = h("div", { class: "attachments-bar" }, this.input, this.chips);
    this.element.hidden = true;
  }

  /** Paste and drop on the composer add attachments (text pastes stay text). The draft's attachments (a send
   * refused because the login ended, files attached before a reload) come back as chips, uploaded. */
  attachTo(composer: HTMLElement, draft?: TrayDraft): void {
    this.draft = draft ?? null;
    this.restore(draft?.load() ?? {});
    composer.prepend(this.element);
    composer.querySelector(".composer__buttons")?.prepend(this.button);
    composer.addEventListener("paste", (event) => {
      const files = Array.from((event as ClipboardEvent).clipboardData?.files ?? []);
      if (files.length) {
        event.preventDefault();
        this.add(files);
      }
    });
    composer.addEventListener("dragover", (event) => {
      if ((event as DragEvent).dataTransfer?.types.includes("Files")) event.preventDefault();
    });
    composer.addEventListener("drop", (event) => {
      const files = Array.from((event as DragEvent).dataTransfer?.files ?? []);
      if (files.length) {
        event.preventDefault();
        this.add(files);
      }
    });
  }

  add(files: File[]): void {
    for (const file of files) {
      if (this.pending.length >= MAX_ATTACHMENTS) {
        this.options.toast(`At most ${MAX_ATTACHMENTS} attachments per message.`, "error");
        return;
      }
      const image = isImage(file.type);
      const limit = image ? MAX_IMAGE_BYTES : this.options.maxUploadBytes;
      if (file.size > limit) {
        this.options.toast(`${file.name || "The file"} is ${formatBytes(file.size)}: larger than the limit of ${formatBytes(limit)}${image ? " for an image Claude can see" : ""}.`, "error");
        continue;
      }
      const preview = image ? URL.createObjectURL(file) : null;
      const path = uploadPath(file.name || (image ? `pasted.${file.type.split("/")[1]}` : "file"));
      const item = this.item(file.name || path.split("/").pop()!, image ? file.type : "file", path, "uploading…", preview);
      item.done = this.upload(item, file);
    }
    this.element.hidden = this.pending.length === 0;
  }

  /** Chips for files uploaded already (a draft's), ready to send; those in `missing` (no longer in the
   * workspace) are marked so and left out of a send, until removed. */
  private restore(files: Record<string, string>, missing: readonly string[] = []): void {
    for (const [path, kind] of Object.entries(files)) {
      if (this.pending.length >= MAX_ATTACHMENTS || this.pending.some((p) => p.path === path)) continue;
      const gone = missing.includes(path);
      const detail = gone ? "gone" : kind === "file" ? "file" : "image";
      const item = this.item(shownName(path), kind, path, detail, kind === "file" || gone ? null : api.fileUrl(path));
      item.chip.dataset.state = gone ? "missing" : "ready";
      if (gone) item.chip.title = `${path} is no longer in the workspace: remove it, or attach the file again.`;
      item.done = Promise.resolve(!gone);
    }
    this.element.hidden = this.pending.length === 0;
  }

  /** A message that was not sent comes back into the box: its attachments are chips again, the files in
   * `missing` (deleted or restored away since they were attached) marked as gone. */
  giveBack(files: Record<string, string>, missing: readonly string[]): void {
    this.restore(files, missing);
    this.keep();
  }

  private item(name: string, kind: string, path: string, detail: string, preview: string | null): Pending {
    const element = chip(name, detail, preview);
    const remove = h("button", { type: "button", class: "attachment__remove", "aria-label": `Remove ${name}` }, "×");
    element.append(remove);
    const item: Pending = { name, kind, path, chip: element, preview, done: Promise.resolve(false) };
    remove.addEventListener("click", () => this.remove(item));
    this.pending.push(item);
    this.chips.append(element);
    return item;
  }

  private async upload(item: Pending, file: File): Promise<boolean> {
    const detail = item.chip.querySelector(".attachment__detail")!;
    try {
      if (file.size > this.options.directTransferBytes) {
        const target = await api.startUpload(item.path, file.size);
        await sendToTarget(target, file);
        await api.completeUpload(target.id);
      } else {
        await api.upload(item.path, file);
      }
      detail.textContent = formatBytes(file.size);
      item.chip.dataset.state = "ready";
      this.keep();
      return true;
    } catch (error) {
      detail.textContent = "not uploaded";
      item.chip.dataset.state = "failed";
      this.options.toast(`Couldn't upload ${item.name}: ${(error as Error).message}`, "error");
      return false;
    }
  }

  /** The uploaded files in the tray are the draft's attachments (one that failed or still uploads is not). */
  private keep(): void {
    const ready = this.pending.filter((p) => p.chip.dataset.state === "ready");
    this.draft?.save(Object.fromEntries(ready.map((p) => [p.path, p.kind])));
  }

  private remove(item: Pending): void {
    this.pending = this.pending.filter((p) => p !== item);
    item.chip.remove();
    if (item.preview?.startsWith("blob:")) URL.revokeObjectURL(item.preview);
    this.element.hidden = this.pending.length === 0;
    this.keep();
  }

  /** The attachments for the message being sent (path → image type or "file"), once their uploads
   * ended; the tray keeps only those that failed (said in a toast), so the text is never held back. */
  async take(): Promise<Record<string, string>> {
    const items = this.pending;
    const results = await Promise.all(items.map((p) => p.done));
    const sent = items.filter((_, i) => results[i]);
    const failed = items.filter((_, i) => !results[i]);
    const gone = failed.filter((p) => p.chip.dataset.state === "missing");
    const notUploaded = failed.filter((p) => !gone.includes(p));
    if (notUploaded.length) this.options.toast(`Sent without ${notUploaded.map((p) => p.name).join(", ")}: not uploaded.`, "error");
    if (gone.length) this.options.toast(`Sent without ${gone.map((p) => p.name).join(", ")}: no longer in the workspace.`, "error");
    for (const p of sent) p.chip.remove();
    this.pending = this.pending.filter((p) => !sent.includes(p));
    this.element.hidden = this.pending.length === 0;
    this.keep();
    return Object.fromEntries(sent.map((p) => [p.path, p.kind]));
  }
}

/** Which of `paths` are no longer files in the workspace (deleted in the Files panel, a restore), so a
 * message is not sent (nor a session made for it) with an attachment the server would refuse. One listing
 * per folder; a folder that cannot be read for another reason, or is listed only in part, is left for the
 * server to judge. */
export async function missingFiles(paths: readonly string[]): Promise<string[]> {
  const folders = new Map<string, string[]>();
  for (const path of paths) {
    const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    folders.set(folder, [...(folders.get(folder) ?? []), path]);
  }
  const missing = new Set<string>();
  await Promise.all(
    [...folders].map(async ([folder, inside]) => {
      try {
        const listing = await api.listFiles(folder);
        const files = new Set(listing.entries.filter((e) => e.type === "file").map((e) => e.path));
        if (!listing.truncated) for (const path of inside) if (!files.has(path)) missing.add(path);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) for (const path of inside) missing.add(path);
      }
    }),
  );
  return paths.filter((p) => missing.has(p));
}

/** The attachment a refused send names as gone (the server's 400 "<path>: no such file in the workspace."). */
export function missingIn(error: unknown, attachments: Record<string, string>): string | null {
  if (!(error instanceof ApiError) || error.status !== 400) return null;
  const path = /^(.+): no such file in the workspace\.$/.exec(error.detail)?.[1];
  return path !== undefined && path in attachments ? path : null;
}

/** The name a person gave the file: the upload path without its folder and its date-and-random prefix. */
export function shownName(path: string): string {
  return (path.split("/").pop() ?? path).replace(/^\d{8}-\d{6}-[0-9a-f]{4}-/, "");
}

/** A sent message's attachments as chips (images with a thumbnail); the container is made once. */
export function renderAttachments(article: HTMLElement, attachments: Record<string, string> | undefined): void {
  const paths = Object.keys(attachments ?? {});
  let box = article.querySelector<HTMLElement>(".msg__attachments");
  if (!paths.length) {
    box?.remove();
    return;
  }
  if (!box) {
    box = h("div", { class: "attachments msg__attachments" });
    article.querySelector(".msg__body")?.before(box);
  }
  if (box.dataset.paths === paths.join("\n")) return;
  box.dataset.paths = paths.join("\n");
  box.replaceChildren(
    ...paths.map((path) => {
      const kind = attachments![path]!;
      const link = h("a", { href: api.fileUrl(path), target: "_blank", rel: "noopener", class: "attachment__link", title: path });
      link.append(chip(shownName(path), kind === "file" ? "file" : "image", kind === "file" ? null : api.fileUrl(path)));
      return link;
    }),
  );
}
