// Notifications: the service worker (web/public/sw.js), the "Enable notifications" flow (permission,
// PushManager.subscribe with Blu's VAPID public key, POST the subscription), which kinds to get, and the
// page's presence reports, from which the runtime decides whether a finished turn is pushed
// (runtime/notify/presence.py).
import { request } from "./api";
import { h } from "./dom";
import "./notifications.css";

interface Kind {
  kind: string;
  label: string;
  enabled: boolean;
}

interface Device {
  id: string;
  push_service: string;
  user_agent: string;
  created_at: number;
}

interface NotificationState {
  public_key: string;
  kinds: Kind[];
  devices: Device[];
}

interface TestResult {
  sent: number;
  dropped: number;
  retrying: number;
  failed: number;
}

type Toast = (text: string, kind?: "info" | "error") => void;

const SW_URL = "/sw.js";

/** Whether this browser can receive Web Push here (a secure context: https, or localhost). */
export function pushSupported(): boolean {
  return window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** iOS and iPadOS deliver Web Push only to a site added to the Home Screen. */
function needsHomeScreen(): boolean {
  const ios = /iPhone|iPad|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  return ios && !window.matchMedia("(display-mode: standalone)").matches;
}

/** Register the service worker, and route the page when a notification about a session is clicked. */
export function registerServiceWorker(open: (hash: string) => void): () => void {
  if (!window.isSecureContext || !("serviceWorker" in navigator)) return () => undefined;
  navigator.serviceWorker.register(SW_URL, { scope: "/" }).catch(() => undefined);
  const onMessage = (event: MessageEvent) => {
    const data = event.data as { type?: unknown; url?: unknown } | null;
    if (data?.type !== "blu-open" || typeof data.url !== "string") return;
    const target = new URL(data.url, window.location.origin);
    if (target.origin === window.location.origin) open(target.hash || "#/new");
  };
  navigator.serviceWorker.addEventListener("message", onMessage);
  return () => navigator.serviceWorker.removeEventListener("message", onMessage);
}

/** Tell the runtime which session this page shows and whether it is visible; on change, and when the page goes. */
export function startPresence(currentSessionId: () => string | null): () => void {
  const page = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  let last = "";
  const report = (visible = document.visibilityState === "visible", keepalive = false) => {
    const sessionId = currentSessionId();
    const key = `${sessionId}|${visible}`;
    if (key === last) return;
    last = key;
    // Not through api.request: a background report must never show the login or the waking screen.
    fetch("/api/notifications/presence", {
      method: "POST",
      credentials: "same-origin",
      keepalive,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ page, session_id: sessionId, visible }),
    }).catch(() => {
      last = "";
    });
  };
  const onChange = () => report();
  const onHide = () => report(false, true);
  document.addEventListener("visibilitychange", onChange);
  window.addEventListener("hashchange", onChange);
  window.addEventListener("pageshow", onChange);
  window.addEventListener("pagehide", onHide);
  // A new session gets its id through history.replaceState, which fires no event.
  const timer = window.setInterval(onChange, 30_000);
  report();
  return () => {
    document.removeEventListener("visibilitychange", onChange);
    window.removeEventListener("hashchange", onChange);
    window.removeEventListener("pageshow", onChange);
    window.removeEventListener("pagehide", onHide);
    window.clearInterval(timer);
  };
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function sameKey(key: ArrayBuffer | null, base64url: string): boolean {
  if (!key) return false;
  const a = new Uint8Array(key);
  const b = keyBytes(base64url);
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Whether Blu lists this endpoint: its device id is the endpoint's SHA-256, 32 hex digits (runtime/api/notifications.py). */
async function knownDevice(endpoint: string, devices: Device[]): Promise<boolean> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(endpoint)));
  const id = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, 32);
  return devices.some((device) => device.id === id);
}

/** The "Notifications" button (for the sidebar's foot) and the dialog it opens. */
export class NotificationsPanel {
  readonly button: HTMLButtonElement;
  readonly dialog: HTMLDialogElement;
  private status: HTMLParagraphElement;
  private toggle: HTMLButtonElement;
  private test: HTMLButtonElement;
  private kinds: HTMLFieldSetElement;
  private devices: HTMLParagraphElement;
  private state: NotificationState | null = null;
  private subscribed = false;

  constructor(private toast: Toast) {
    this.button = h("button", { type: "button", class: "button sidebar__notifications", "data-testid": "notifications-open", onclick: () => void this.open() }, "Notifications");
    this.status = h("p", { class: "notify__status", "data-testid": "notifications-status", role: "status" });
    this.toggle = h("button", { type: "button", class: "button button--primary", "data-testid": "notifications-toggle", onclick: () => void this.onToggle() }, "Enable notifications");
    this.test = h("button", { type: "button", class: "button", "data-testid": "notifications-test", onclick: () => void this.sendTest() }, "Send a test");
    this.kinds = h("fieldset", { class: "notify__kinds", "data-testid": "notifications-kinds" }, h("legend", null, "Notify me when"));
    this.devices = h("p", { class: "notify__devices" });
    this.dialog = h(
      "dialog",
      { class: "notify", "aria-labelledby": "notify-title", "data-testid": "notifications-dialog" },
      h("h2", { id: "notify-title", class: "notify__title" }, "Notifications"),
      this.status,
      h("div", { class: "notify__actions" }, this.toggle, this.test),
      this.kinds,
      this.devices,
      h("div", { class: "notify__foot" }, h("button", { type: "button", class: "button", onclick: () => this.dialog.close() }, "Close")),
    );
  }

  async open(): Promise<void> {
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  private async registration(): Promise<ServiceWorkerRegistration> {
    await navigator.serviceWorker.register(SW_URL, { scope: "/" });
    return navigator.serviceWorker.ready;
  }

  private async refresh(): Promise<void> {
    try {
      this.state = await request<NotificationState>("GET", "/api/notifications");
    } catch (error) {
      this.status.textContent = `Couldn't load the notification settings: ${(error as Error).message}`;
      return;
    }
    this.subscribed = false;
    if (pushSupported()) {
      const registration = await navigator.serviceWorker.getRegistration("/");
      const subscription = await registration?.pushManager.getSubscription();
      // On only when Blu knows this subscription too (it drops those the push service rejected).
      this.subscribed =
        !!subscription &&
        Notification.permission === "granted" &&
        sameKey(subscription.options.applicationServerKey, this.state.public_key) &&
        (await knownDevice(subscription.endpoint, this.state.devices));
    }
    this.render();
  }

  private render(): void {
    const state = this.state;
    if (!state) return;
    let text: string;
    if (!pushSupported()) text = needsHomeScreen() ? "On iPhone and iPad, add Blu to the Home Screen (Share, then “Add to Home Screen”) and enable notifications there." : "This browser can't receive notifications from Blu here (it needs https).";
    else if (Notification.permission === "denied") text = "Notifications are blocked for Blu: allow them in this browser's site settings, then come back.";
    else text = this.subscribed ? "On for this browser." : "Off for this browser.";
    this.status.textContent = text;
    this.toggle.hidden = !pushSupported() || Notification.permission === "denied";
    this.toggle.textContent = this.subscribed ? "Turn off for this browser" : "Enable notifications";
    this.test.disabled = state.devices.length === 0;
    const boxes = state.kinds.map((kind) =>
      h(
        "label",
        { class: "notify__kind" },
        h("input", { type: "checkbox", checked: kind.enabled, "data-kind": kind.kind, onchange: (e: Event) => void this.setKind(kind.kind, (e.target as HTMLInputElement).checked) }),
        " ",
        kind.label,
      ),
    );
    this.kinds.replaceChildren(h("legend", null, "Notify me when"), ...boxes);
    const count = state.devices.length;
    this.devices.textContent = count === 0 ? "No browser or phone gets notifications yet." : `${count} ${count === 1 ? "browser or phone gets" : "browsers or phones get"} notifications.`;
  }

  private async onToggle(): Promise<void> {
    this.toggle.disabled = true;
    try {
      if (this.subscribed) await this.disable();
      else await this.enable();
    } catch (error) {
      this.toast(`Couldn't change notifications: ${(error as Error).message}`, "error");
    } finally {
      this.toggle.disabled = false;
      await this.refresh();
    }
  }

  private async enable(): Promise<void> {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      this.toast(permission === "denied" ? "Notifications are blocked for Blu in this browser." : "Notifications were not allowed.", "error");
      return;
    }
    const registration = await this.registration();
    const key = this.state?.public_key ?? (await request<NotificationState>("GET", "/api/notifications")).public_key;
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe(); // made with another key: the push service would refuse Blu's pushes
      subscription = null;
    }
    subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
    await request("POST", "/api/notifications/subscriptions", { json: subscription.toJSON() });
    this.toast("Notifications are on for this browser.");
  }

  private async disable(): Promise<void> {
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = await registration?.pushManager.getSubscription();
    if (!subscription) return;
    await request("POST", "/api/notifications/unsubscribe", { json: { endpoint: subscription.endpoint } });
    await subscription.unsubscribe();
    this.toast("Notifications are off for this browser.");
  }

  private async setKind(kind: string, enabled: boolean): Promise<void> {
    try {
      this.state = await request<NotificationState>("PUT", "/api/notifications/preferences", { json: { kinds: { [kind]: enabled } } });
      this.render();
    } catch (error) {
      this.toast(`Couldn't save: ${(error as Error).message}`, "error");
      await this.refresh();
    }
  }

  private async sendTest(): Promise<void> {
    try {
      const result = await request<TestResult>("POST", "/api/notifications/test");
      const parts = [`Sent to ${result.sent}`];
      if (result.dropped) parts.push(`${result.dropped} no longer subscribed (removed)`);
      if (result.retrying) parts.push(`${result.retrying} will be retried`);
      if (result.failed) parts.push(`${result.failed} refused`);
      this.toast(`${parts.join(", ")}.`, result.sent ? "info" : "error");
    } catch (error) {
      this.toast(`Couldn't send a test: ${(error as Error).message}`, "error");
    }
    await this.refresh();
  }
}
