// Toasts and Undo bars in one stack, kept just above the chat's status line and message box while it shows
// anything: one never covers another, nor "Blu is answering…", nor the box (on a phone it would take its taps).
import { h } from "./dom";

let stack: { element: HTMLElement; toasts: HTMLElement } | null = null;
let following: (() => void) | null = null;

function parts(): { element: HTMLElement; toasts: HTMLElement } {
  if (!stack) {
    const toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    stack = { element: h("div", { class: "notices", "data-testid": "notices" }, toasts), toasts };
  }
  return stack;
}

/** The stack's element, for the page to hold (made once; the app puts it on the page each time it starts). */
export function noticeStack(): HTMLElement {
  return parts().element;
}

const timers = new WeakMap<HTMLElement, number>();

/** A short message that goes by itself (errors stay longer), under the earlier ones: the newest nearest the box.
 * The same message again (a button clicked twice) does not stack a copy: the one showing moves to the newest
 * place (so it is announced again) and its time starts over. */
export function toast(text: string, kind: "info" | "error" = "info"): void {
  const { toasts } = parts();
  const same = (el: Element): el is HTMLElement => el instanceof HTMLElement && el.textContent === text && el.classList.contains(`toast--${kind}`);
  const showing = [...toasts.children].find(same);
  const item = showing ?? h("div", { class: `toast toast--${kind}` }, text);
  window.clearTimeout(timers.get(item));
  toasts.append(item);
  follow();
  timers.set(
    item,
    window.setTimeout(() => {
      item.remove();
      settle();
    }, kind === "error" ? 7000 : 3500),
  );
}

/** Show a bar (Undo) at the foot of the stack, nearest the message box; returns what removes it. */
export function showBar(bar: HTMLElement): () => void {
  const { element } = parts();
  if (!element.isConnected) document.body.append(element);
  element.append(bar);
  follow();
  return () => {
    bar.remove();
    settle();
  };
}

/** Stop following the page once the stack is empty. */
function settle(): void {
  const { element, toasts } = parts();
  if (toasts.childElementCount || element.childElementCount > 1) return;
  following?.();
  following = null;
}

/** Place the stack above the status line when it says something, else above the message box: now, and
 * again when the page changes under it (the chat view swapped, the box grows with its text, the status
 * line comes or goes, the window or the on-screen keyboard resizes). */
function follow(): void {
  if (following) return;
  const { element } = parts();
  const place = () => {
    const tops = [".chat__status", "form.composer"]
      .map((selector) => document.querySelector<HTMLElement>(selector)?.getBoundingClientRect())
      .filter((r): r is DOMRect => !!r && r.height > 0)
      .map((r) => r.top);
    const top = tops.length ? Math.min(...tops) : 0;
    element.style.bottom = top <= 0 ? "" : `${Math.max(window.innerHeight - top + 8, 8)}px`;
  };
  let frame = 0;
  const later = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(place);
  };
  place();
  later();
  const observer = new MutationObserver(later);
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  const sources: [EventTarget | undefined, string][] = [
    [window, "resize"],
    [window, "hashchange"],
    [document, "input"],
    [window.visualViewport ?? undefined, "resize"],
  ];
  for (const [target, type] of sources) target?.addEventListener(type, later);
  following = () => {
    cancelAnimationFrame(frame);
    observer.disconnect();
    for (const [target, type] of sources) target?.removeEventListener(type, later);
  };
}
