// Entry point: the login screen when logged out, the chat when logged in, and the waking overlay
// whenever Blu is asleep or unreachable. No inline scripts anywhere (the page's CSP forbids them).
import "./styles.css";
import { api, ApiError, NetworkError, setApiHooks, UNREACHABLE_STATUSES } from "./api";
import type { AppHandle } from "./app";
import { h } from "./dom";
import { createLoginForm } from "./login-form";
import { createWakeOverlay } from "./wake/overlay";

const root = document.getElementById("root") as HTMLElement;
// Fetch the chat code while the config request is in flight.
const appModule = import("./app");
let app: AppHandle | null = null;
let screen: "boot" | "login" | "app" = "boot";
let booting = false;

function markInteractive(): void {
  if (!performance.getEntriesByName("blu-interactive").length) performance.mark("blu-interactive");
  document.documentElement.dataset.ready = screen;
}

const wake = createWakeOverlay({
  onReady: () => {
    if (app) app.resume();
    else if (screen !== "login") void boot();
  },
});

setApiHooks({
  onUnauthorized: () => showLogin(),
  // Opening the page in view is a person asking for Blu; losing it later (the idle rule) is not.
  onUnreachable: () => void wake.start({ mayWake: screen === "boot" && document.visibilityState === "visible" }),
});

function showLogin(): void {
  if (screen === "login") return;
  app?.destroy();
  app = null;
  screen = "login";
  document.title = "Log in · Blu";
  const form = createLoginForm({ url: "/api/login", onSuccess: () => void boot() });
  root.replaceChildren(
    h(
      "main",
      { class: "login", "data-testid": "login" },
      h("div", { class: "login__card" }, h("div", { class: "login__logo", "aria-hidden": "true" }, "Blu"), form),
    ),
  );
  form.querySelector<HTMLInputElement>("input[type=password]")?.focus();
  markInteractive();
}

async function boot(): Promise<void> {
  if (booting) return;
  booting = true;
  try {
    const config = await api.config();
    const { startApp } = await appModule;
    app?.destroy();
    screen = "app";
    app = startApp(root, config, {
      onLogout: () => {
        screen = "boot";
        showLogin();
      },
    });
    markInteractive();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // showLogin() ran from the hook
    if (error instanceof NetworkError || (error instanceof ApiError && UNREACHABLE_STATUSES.has(error.status))) return; // the overlay boots again when Blu is back
    root.replaceChildren(
      h("main", { class: "login" }, h("div", { class: "login__card" }, h("h1", null, "Blu couldn't start"), h("p", null, (error as Error).message), h("button", { class: "button", type: "button", onclick: () => location.reload() }, "Reload"))),
    );
  } finally {
    booting = false;
  }
}

void boot();
