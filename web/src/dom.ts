// A tiny DOM builder: h("button", { class: "x", onclick: fn, "aria-label": "Close" }, "text", child).
// Strings become text nodes, never HTML; only markdown.ts writes sanitized HTML.

export type Child = Node | string | number | null | undefined | false;
export type Props = Record<string, unknown>;

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "open", "indeterminate", "selected"]);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) {
        if (PROPERTIES.has(key)) (el as unknown as Record<string, unknown>)[key] = false;
        continue;
      }
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
      } else if (key === "class") {
        el.className = String(value);
      } else if (PROPERTIES.has(key)) {
        (el as unknown as Record<string, unknown>)[key] = value;
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function clear(el: Element): void {
  el.replaceChildren();
}

/** A visually hidden text for screen readers. */
export function sr(text: string): HTMLSpanElement {
  return h("span", { class: "sr-only" }, text);
}

/** Announce a short status to screen readers through the page's polite live region. */
export function announce(text: string): void {
  const region = document.getElementById("sr-status");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}
