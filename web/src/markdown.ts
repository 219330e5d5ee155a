// Model output → safe DOM: Markdown made HTML by web/src/markdown-html.ts (`marked`, highlight.js),
// everything sanitized by DOMPurify before it touches the page. No HTML or script from the
// model runs: raw HTML is sanitized away, links open in a new tab without a referrer, and images from
// other sites become links (the page's CSP would block them anyway).
import DOMPurify from "dompurify";
import { highlight, languageForPath, markdownHtml } from "./markdown-html";

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

const PURIFY_CONFIG = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "option", "iframe", "object", "embed", "dialog"],
  FORBID_ATTR: ["style", "id", "name", "autofocus"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true as const,
};

function sameOriginOrData(src: string): boolean {
  if (src.startsWith("data:image/")) return true;
  try {
    return new URL(src, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

/** Render Markdown into `target`, replacing its children. */
export function renderMarkdown(target: HTMLElement, text: string): void {
  const html = markdownHtml(text);
  const fragment = DOMPurify.sanitize(html, PURIFY_CONFIG) as DocumentFragment;
  for (const img of Array.from(fragment.querySelectorAll("img"))) {
    const src = img.getAttribute("src") || "";
    if (!sameOriginOrData(src)) {
      const link = document.createElement("a");
      link.href = src;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      link.textContent = img.getAttribute("alt") || src;
      img.replaceWith(link);
    }
  }
  for (const pre of Array.from(fragment.querySelectorAll("pre"))) {
    // The button sits in a bar above the code, outside its scrolling box: it never covers code.
    const block = document.createElement("div");
    block.className = "code-block";
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy-code";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", "Copy the code");
    pre.replaceWith(block);
    block.append(copy, pre);
  }
  // Wide tables scroll sideways in their own box instead of squeezing their words.
  for (const table of Array.from(fragment.querySelectorAll("table"))) {
    const wrap = document.createElement("div");
    wrap.className = "table-scroll";
    table.replaceWith(wrap);
    wrap.append(table);
    // Short cells keep to one line; long ones wrap at a readable width.
    for (const cell of Array.from(table.querySelectorAll("td, th"))) if ((cell.textContent ?? "").length > 40) cell.classList.add("cell--long");
  }
  // Each block takes its direction from its own text, so a right-to-left paragraph reads right to left.
  for (const block of Array.from(fragment.querySelectorAll("p, li, h1, h2, h3, h4, h5, h6, blockquote, td, th"))) {
    block.setAttribute("dir", "auto");
  }
  target.replaceChildren(fragment);
}

/** One delegated handler for the code blocks' copy buttons. */
export function handleCopyClicks(container: HTMLElement): void {
  container.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button.copy-code");
    if (!button) return;
    const code = button.parentElement?.querySelector("code")?.textContent ?? "";
    void navigator.clipboard?.writeText(code).then(
      () => {
        button.textContent = "Copied";
        window.setTimeout(() => (button.textContent = "Copy"), 1500);
      },
      () => {
        button.textContent = "Copy failed";
      },
    );
  });
}

/** Highlighted plain text (a file preview) into `target`. */
export function renderCode(target: HTMLElement, text: string, path: string): void {
  const pre = document.createElement("pre");
  const code = document.createElement("code");
  code.className = "hljs";
  const fragment = DOMPurify.sanitize(highlight(text, languageForPath(path)), PURIFY_CONFIG) as DocumentFragment;
  code.append(fragment);
  pre.append(code);
  target.replaceChildren(pre);
}
