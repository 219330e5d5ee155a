// Markdown → HTML text by `marked`, code highlighted by highlight.js (a handful of languages). No DOM here:
// web/src/markdown.ts sanitizes what this makes before it touches the page.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import diff from "highlight.js/lib/languages/diff";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import { Marked } from "marked";

const languages: Record<string, Parameters<typeof hljs.registerLanguage>[1]> = {
  bash,
  diff,
  javascript,
  json,
  markdown,
  python,
  typescript,
  xml,
  yaml,
};
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language);
hljs.registerAliases(["sh", "shell", "zsh", "console"], { languageName: "bash" });
hljs.registerAliases(["js", "jsx", "mjs", "cjs"], { languageName: "javascript" });
hljs.registerAliases(["ts", "tsx"], { languageName: "typescript" });
hljs.registerAliases(["py"], { languageName: "python" });
hljs.registerAliases(["html", "svg"], { languageName: "xml" });
hljs.registerAliases(["yml"], { languageName: "yaml" });
hljs.registerAliases(["md"], { languageName: "markdown" });

const EXTENSION_LANGUAGE: Record<string, string> = {
  sh: "bash",
  bash: "bash",
  diff: "diff",
  patch: "diff",
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  json: "json",
  md: "markdown",
  markdown: "markdown",
  py: "python",
  ts: "typescript",
  tsx: "typescript",
  html: "xml",
  xml: "xml",
  svg: "xml",
  yml: "yaml",
  yaml: "yaml",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function highlight(code: string, language?: string | null): string {
  const lang = (language || "").trim().split(/\s+/)[0]?.toLowerCase();
  if (lang && hljs.getLanguage(lang)) {
    try {
      return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    } catch {
      // fall through to plain text
    }
  }
  return escapeHtml(code);
}

export function languageForPath(path: string): string | null {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  return EXTENSION_LANGUAGE[ext] ?? null;
}

/** A task list item's box ("- [ ]", "- [x]") as a mark a screen reader names, not an input: the sanitizer
 * keeps input elements out of model output, and a box there could not be ticked anyway. */
export function taskMark(checked: boolean): string {
  const label = checked ? "Done" : "Not done";
  return `<span class="task-mark${checked ? " task-mark--done" : ""}" role="img" aria-label="${label}">${checked ? "☑" : "☐"}</span> `;
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // Raw HTML in model output is shown as text, never parsed: nothing the model writes can carry
    // markup or handlers (DOMPurify below is the second line of defence, the page's CSP the third).
    html({ text }) {
      return escapeHtml(text);
    },
    checkbox({ checked }) {
      return taskMark(checked);
    },
    code({ text, lang }) {
      const language = (lang || "").trim().split(/\s+/)[0] ?? "";
      const cls = language ? ` class="hljs language-${escapeHtml(language)}"` : ' class="hljs"';
      return `<pre><code${cls}>${highlight(text.replace(/\n$/, ""), language)}</code></pre>\n`;
    },
  },
});

/** Model output as HTML, not yet sanitized (renderMarkdown sanitizes it before it touches the page). */
export function markdownHtml(text: string): string {
  return marked.parse(text, { async: false }) as string;
}
