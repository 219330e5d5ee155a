// What makes Blu feel native on a phone: the layout shrinks above the on-screen keyboard (visualViewport),
// and pulling the session list down past its top refreshes it.

/** How much of the layout viewport the keyboard (or anything else) covers at the bottom, in CSS px. */
export function keyboardInset(innerHeight: number, viewport: { height: number; offsetTop: number } | null): number {
  if (!viewport) return 0;
  return Math.max(0, Math.round(innerHeight - viewport.height - viewport.offsetTop));
}

/** Keep `--keyboard-inset` on <html> up to date, so the app (and its composer) ends above the keyboard. */
export function followKeyboard(): () => void {
  const viewport = window.visualViewport;
  if (!viewport) return () => undefined;
  const update = () => document.documentElement.style.setProperty("--keyboard-inset", `${keyboardInset(window.innerHeight, viewport)}px`);
  viewport.addEventListener("resize", update);
  viewport.addEventListener("scroll", update);
  update();
  return () => {
    viewport.removeEventListener("resize", update);
    viewport.removeEventListener("scroll", update);
  };
}

export const PULL_THRESHOLD = 70;

/** Pull `list` down from its top by PULL_THRESHOLD px (touch) to run `refresh`; an indicator says so. */
export function pullToRefresh(list: HTMLElement, refresh: () => Promise<void>): void {
  const indicator = document.createElement("div");
  indicator.className = "pull";
  indicator.setAttribute("role", "status");
  indicator.setAttribute("aria-live", "polite");
  list.before(indicator);
  let startY: number | null = null;
  let pulled = 0;
  let busy = false;
  const show = (height: number, text: string) => {
    indicator.style.height = `${height}px`;
    indicator.textContent = text;
  };
  list.addEventListener(
    "touchstart",
    (event) => {
      startY = list.scrollTop <= 0 && !busy ? (event.touches[0]?.clientY ?? null) : null;
      pulled = 0;
    },
    { passive: true },
  );
  list.addEventListener(
    "touchmove",
    (event) => {
      if (startY === null) return;
      pulled = Math.max(0, (event.touches[0]?.clientY ?? startY) - startY);
      if (pulled > 0 && event.cancelable) event.preventDefault(); // no rubber-band scroll meanwhile
      show(Math.min(pulled / 2, 48), pulled >= PULL_THRESHOLD ? "Release to refresh" : "Pull to refresh");
    },
    { passive: false },
  );
  list.addEventListener("touchend", () => {
    if (startY === null) return;
    startY = null;
    if (pulled < PULL_THRESHOLD) {
      show(0, "");
      return;
    }
    busy = true;
    show(36, "Refreshing…");
    void refresh().finally(() => {
      busy = false;
      show(0, "");
    });
  });
}
