// The side panel: this session's artifacts and the workspace file browser (with upload), and the
// file preview dialog (text, Markdown, images; everything downloadable).
import { api, ApiError, sendToTarget, type ArtifactRecord, type FileEntry } from "./api";
import { h } from "./dom";
import { formatBytes, relativeTime } from "./format";
import { icon } from "./icons";
import { renderCode, renderMarkdown } from "./markdown";

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
const MARKDOWN = /\.(md|markdown)$/i;
const TEXT =
  /\.(txt|md|markdown|json|ya?ml|toml|ini|cfg|conf|csv|tsv|log|py|js|mjs|cjs|ts|tsx|jsx|css|html?|xml|svg|sh|bash|zsh|sql|diff|patch|rs|go|java|c|h|cpp|hpp|rb|php|env|gitignore|dockerfile)$/i;
const MAX_PREVIEW_BYTES = 1024 * 1024;

export interface PanelHost {
  toast(text: string, kind?: "info" | "error"): void;
  maxUploadBytes: number;
  /** Files above this size go directly to storage, not through the API (which cuts bodies at 10 MB). */
  directTransferBytes: number;
}

/** "25 MB", not "25.0 MB": the limit as the person reads it. */
export function limitText(bytes: number): string {
  return formatBytes(bytes).replace(/\.0 /, " ");
}

/** Download through a link Blu hands out: large files come straight from storage (a short-lived link). */
export async function downloadFile(path: string, onError: (text: string) => void): Promise<void> {
  try {
    const link = await api.downloadLink(path);
    const anchor = h("a", { href: link.url, download: path.split("/").pop() || "file", hidden: true });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
  } catch (error) {
    onError(`Couldn't download ${path}: ${(error as Error).message}`);
  }
}

export class Preview {
  readonly element: HTMLDialogElement;
  private title: HTMLElement;
  private body: HTMLElement;
  private download: HTMLAnchorElement;
  private token = 0;

  constructor(onError: (text: string) => void = () => undefined) {
    this.title = h("h2", { id: "preview-title", class: "preview__title" });
    this.download = h("a", { class: "button", href: "#", download: "" }, "Download");
    this.download.addEventListener("click", (event) => {
      event.preventDefault();
      void downloadFile(this.title.textContent || "", onError);
    });
    this.body = h("div", { class: "preview__body", tabindex: "0", "aria-label": "File content" });
    this.element = h(
      "dialog",
      { class: "preview", "data-testid": "file-preview", "aria-labelledby": "preview-title" },
      h(
        "header",
        { class: "preview__head" },
        this.title,
        h(
          "div",
          { class: "preview__actions" },
          this.download,
          h("button", { type: "button", class: "button", "aria-label": "Close the preview", onclick: () => this.element.close() }, "Close"),
        ),
      ),
      this.body,
    );
    this.element.addEventListener("click", (event) => {
      if (event.target === this.element) this.element.close(); // a click on the backdrop
    });
  }

  async open(path: string): Promise<void> {
    const token = ++this.token;
    this.title.textContent = path;
    this.download.href = api.fileUrl(path, true);
    this.download.setAttribute("download", path.split("/").pop() || "file");
    this.body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    if (!this.element.open) this.element.showModal();
    if (IMAGE.test(path)) {
      const image = h("img", { src: api.fileUrl(path), alt: path, class: "preview__image" });
      // In AWS an image above the API's limit is refused (413): say so instead of a broken image.
      image.addEventListener("error", () => {
        if (token === this.token) this.body.replaceChildren(h("p", { class: "muted" }, "This image can't be shown here. Use Download."));
      });
      this.body.replaceChildren(image);
      return;
    }
    try {
      const response = await fetch(api.fileUrl(path), { credentials: "same-origin", cache: "no-store" });
      if (token !== this.token) return;
      if (!response.ok) {
        const detail = await response.json().catch(() => ({ detail: response.statusText }));
        throw new ApiError(response.status, (detail as { detail?: string }).detail ?? response.statusText);
      }
      const type = response.headers.get("content-type") || "";
      const size = Number(response.headers.get("content-length") || 0);
      if (!TEXT.test(path) && !type.startsWith("text/") && !type.includes("json")) {
        this.body.replaceChildren(h("p", { class: "muted" }, "No preview for this kind of file. Use Download."));
        return;
      }
      if (size > MAX_PREVIEW_BYTES) {
        this.body.replaceChildren(h("p", { class: "muted" }, `This file is ${formatBytes(size)}: too large to preview. Use Download.`));
        return;
      }
      const text = await response.text();
      if (token !== this.token) return;
      const target = h("div", { class: MARKDOWN.test(path) ? "markdown" : "preview__code" });
      if (MARKDOWN.test(path)) renderMarkdown(target, text);
      else renderCode(target, text, path);
      this.body.replaceChildren(target);
    } catch (error) {
      if (token !== this.token) return;
      this.body.replaceChildren(h("p", { class: "error-text" }, `Couldn't open the file: ${(error as Error).message}`));
    }
  }
}

export class Panel {
  readonly element: HTMLElement;
  private tabs: { artifacts: HTMLButtonElement; files: HTMLButtonElement };
  private artifactsView: HTMLElement;
  private filesView: HTMLElement;
  private artifactList: HTMLUListElement;
  private fileList: HTMLUListElement;
  private crumbs: HTMLElement;
  private upload: HTMLInputElement;
  private sessionId: string | null = null;
  private dir = "";
  private artifactToken = 0;

  constructor(
    private host: PanelHost,
    private preview: Preview,
    onClose: () => void,
  ) {
    const tab = (id: string, label: string) =>
      h("button", { type: "button", role: "tab", id: `tab-${id}`, "aria-controls": `tabpanel-${id}`, class: "tab", onclick: () => this.select(id as "artifacts" | "files") }, label);
    this.tabs = { artifacts: tab("artifacts", "Artifacts"), files: tab("files", "Files") };
    this.artifactList = h("ul", { class: "file-list", "aria-label": "Files changed in this session" });
    this.artifactsView = h(
      "div",
      { id: "tabpanel-artifacts", role: "tabpanel", "aria-labelledby": "tab-artifacts", class: "panel__view" },
      this.artifactList,
    );
    this.crumbs = h("nav", { class: "crumbs", "aria-label": "Folder" });
    this.fileList = h("ul", { class: "file-list", "aria-label": "Workspace files" });
    this.upload = h("input", { type: "file", id: "upload-input", class: "sr-only", multiple: true, onchange: () => void this.onUpload() });
    this.filesView = h(
      "div",
      { id: "tabpanel-files", role: "tabpanel", "aria-labelledby": "tab-files", class: "panel__view", hidden: true },
      h(
        "div",
        { class: "panel__toolbar" },
        this.crumbs,
        h("label", { for: "upload-input", class: "button button--small", tabindex: "0", role: "button", "aria-describedby": "upload-limit", onkeydown: (e: KeyboardEvent) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), this.upload.click()) }, "Upload"),
        h("span", { id: "upload-limit", class: "muted panel__limit", "data-testid": "upload-limit" }, `Up to ${limitText(host.maxUploadBytes)} a file`),
        this.upload,
        h("button", { type: "button", class: "button button--small", "aria-label": "Refresh the file list", onclick: () => void this.loadDir(this.dir) }, "Refresh"),
      ),
      this.fileList,
    );
    this.element = h(
      "aside",
      { id: "panel", class: "panel", "aria-label": "Artifacts and files" },
      h(
        "div",
        { class: "panel__head" },
        h("div", { role: "tablist", "aria-label": "Panel", class: "tabs" }, this.tabs.artifacts, this.tabs.files),
        h("button", { type: "button", class: "icon-button panel__close", "aria-label": "Close the panel", onclick: onClose }, icon("close")),
      ),
      this.artifactsView,
      this.filesView,
    );
    this.element.querySelector('[role="tablist"]')?.addEventListener("keydown", (event) => {
      const key = (event as KeyboardEvent).key;
      if (key === "ArrowRight" || key === "ArrowLeft") {
        const next = this.tabs.artifacts.getAttribute("aria-selected") === "true" ? "files" : "artifacts";
        this.select(next);
        this.tabs[next].focus();
      }
    });
    this.select("artifacts");
  }

  select(which: "artifacts" | "files"): void {
    for (const [name, button] of Object.entries(this.tabs)) {
      const on = name === which;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
    }
    this.artifactsView.hidden = which !== "artifacts";
    this.filesView.hidden = which !== "files";
    if (which === "files") void this.loadDir(this.dir);
  }

  setSession(id: string | null): void {
    this.sessionId = id;
    void this.loadArtifacts();
  }

  async loadArtifacts(): Promise<void> {
    const token = ++this.artifactToken;
    if (!this.sessionId) {
      this.artifactList.replaceChildren(h("li", { class: "muted file-list__empty" }, "Files Blu creates or changes in this session appear here."));
      return;
    }
    try {
      const { artifacts } = await api.artifacts(this.sessionId);
      if (token !== this.artifactToken) return;
      this.renderArtifacts(artifacts);
    } catch {
      // shown elsewhere (overlay / login)
    }
  }

  private renderArtifacts(artifacts: ArtifactRecord[]): void {
    if (!artifacts.length) {
      this.artifactList.replaceChildren(h("li", { class: "muted file-list__empty" }, "No files yet. Files Blu creates or changes in this session appear here."));
      return;
    }
    const sorted = [...artifacts].sort((a, b) => b.updated_at - a.updated_at);
    this.artifactList.replaceChildren(
      ...sorted.map((a) =>
        this.fileRow(a.path, a.path, `${a.operation === "create" ? "Created" : a.operation === "update" ? "Changed" : "Deleted"} ${relativeTime(a.updated_at)}`, a.operation !== "delete"),
      ),
    );
  }

  private fileRow(path: string, label: string, meta: string, openable: boolean): HTMLLIElement {
    return h(
      "li",
      { class: "file-row", "data-path": path },
      openable
        ? h("button", { type: "button", class: "file-row__open", "aria-label": `Preview ${label}`, onclick: () => void this.preview.open(path) }, h("span", { class: "file-row__name" }, label), h("span", { class: "file-row__meta" }, meta))
        : h("span", { class: "file-row__open" }, h("span", { class: "file-row__name" }, label), h("span", { class: "file-row__meta" }, meta)),
      openable
        ? h(
            "a",
            {
              class: "icon-button",
              href: api.fileUrl(path, true),
              download: path.split("/").pop() || "",
              "aria-label": `Download ${label}`,
              title: "Download",
              onclick: (event: MouseEvent) => {
                event.preventDefault();
                void downloadFile(path, (text) => this.host.toast(text, "error"));
              },
            },
            icon("download"),
          )
        : null,
    );
  }

  async loadDir(path: string): Promise<void> {
    try {
      const listing = await api.listFiles(path);
      this.dir = listing.path;
      this.renderDir(listing.entries, listing.truncated, listing.hidden);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 400) && path) {
        this.dir = "";
        await this.loadDir("");
      }
    }
  }

  private renderDir(entries: FileEntry[], truncated = false, hidden = 0): void {
    const parts = this.dir ? this.dir.split("/") : [];
    const crumbs: (HTMLElement | string)[] = [h("button", { type: "button", class: "link-button", onclick: () => void this.loadDir("") }, "workspace")];
    parts.forEach((part, i) => {
      crumbs.push(" / ");
      const target = parts.slice(0, i + 1).join("/");
      crumbs.push(i === parts.length - 1 ? h("span", { "aria-current": "location" }, part) : h("button", { type: "button", class: "link-button", onclick: () => void this.loadDir(target) }, part));
    });
    this.crumbs.replaceChildren(...crumbs);
    const sorted = [...entries].sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === "dir" ? -1 : 1));
    const rows = sorted.map((e) =>
      e.type === "dir"
        ? h(
            "li",
            { class: "file-row file-row--dir", "data-path": e.path },
            h("button", { type: "button", class: "file-row__open", "aria-label": `Open folder ${e.name}`, onclick: () => void this.loadDir(e.path) }, h("span", { class: "file-row__name" }, icon("folder", 16), ` ${e.name}`), h("span", { class: "file-row__meta" }, "folder")),
          )
        : this.fileRow(e.path, e.name, `${formatBytes(e.size)} · ${relativeTime(e.modified)}`, true),
    );
    const notes: HTMLElement[] = [];
    // The listing says what it leaves out, so nothing in the folder vanishes without a word.
    if (truncated) notes.push(h("li", { class: "muted file-list__note", "data-testid": "listing-truncated" }, `Only the first ${rows.length.toLocaleString()} entries are shown.`));
    if (hidden) notes.push(h("li", { class: "muted file-list__note", "data-testid": "listing-hidden" }, `${hidden} ${hidden === 1 ? "item is" : "items are"} not shown: links, special files, files with several names, or names Blu can't open.`));
    const empty = rows.length || notes.length ? [] : [h("li", { class: "muted file-list__empty" }, "This folder is empty.")];
    this.fileList.replaceChildren(...rows, ...notes, ...empty);
  }

  private async onUpload(): Promise<void> {
    const files = Array.from(this.upload.files ?? []);
    this.upload.value = "";
    for (const file of files) {
      if (file.size > this.host.maxUploadBytes) {
        this.host.toast(`${file.name} is ${formatBytes(file.size)}: larger than the limit of ${limitText(this.host.maxUploadBytes)}. Nothing was uploaded.`, "error");
        continue;
      }
      const path = this.dir ? `${this.dir}/${file.name}` : file.name;
      try {
        if (file.size > this.host.directTransferBytes) {
          // Too large for the API: straight to storage, then Blu moves it into the workspace.
          this.host.toast(`Uploading ${file.name} (${formatBytes(file.size)})…`);
          const target = await api.startUpload(path, file.size);
          await sendToTarget(target, file);
          await api.completeUpload(target.id);
        } else {
          await api.upload(path, file);
        }
        this.host.toast(`Uploaded ${path}.`);
      } catch (error) {
        this.host.toast(`Couldn't upload ${file.name}: ${(error as Error).message}`, "error");
      }
    }
    await this.loadDir(this.dir);
  }
}
