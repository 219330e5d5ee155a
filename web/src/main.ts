// Entry point: the login screen when logged out, the chat when logged in, and the waking overlay
// whenever Blu is asleep or unreachable. No inline scripts anywhere (the page's CSP forbids them).
import "./styles.css";
import { api, ApiError, NetworkError, setApiHooks, UNREACHABLE_STATUSES } from "./api";
import type { AppHandle } from "./app";
import { h } from "./dom";
import { createLoginForm } from "./login-form";
import { applyTheme, storedTheme } from "./theme";
import { createWakeOverlay } from "./wake/overlay";

applyTheme(storedTheme()); // before the first paint: the theme chosen in Settings

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
    else void boot(); // boot asks GET /login again: the login screen stays if still logged out
  },
});

setApiHooks({
  onUnauthorized: () => showLogin(),
  // Opening the page in view is a person asking for Blu; losing it later (the idle rule) is not.
  onUnreachable: () => void wake.start({ mayWake: screen === "boot" && document.visibilityState === "visible" }),
});

// Where the login form posts: the launcher's /login in AWS (it answers while Blu sleeps), else the runtime's.
let loginUrl = "/api/login";

function showLogin(): void {
  if (screen === "login") return;
  app?.destroy();
  app = null;
  screen = "login";
  document.title = "Log in · Blu";
  const form = createLoginForm({ url: loginUrl, onSuccess: () => void boot() });
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

interface LoginState {
  logged_in: boolean;
  /** The launcher Lambda answered (in AWS): Blu itself may be asleep. */
  launcher: boolean;
  awake: boolean | null;
}

/** GET /login: answered 200 whether logged in or not, by the launcher in AWS and the runtime locally. */
async function loginState(): Promise<LoginState | null> {
  try {
    const r = await fetch("/login", { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } });
    const type = r.headers.get("content-type") || "";
    return r.ok && type.includes("json") ? ((await r.json()) as LoginState) : null;
  } catch {
    return null;
  }
}

async function boot(): Promise<void> {
  if (booting) return;
  booting = true;
  try {
    // Ask first, so a normal visit never probes a route that answers 401 or 503.
    const state = await loginState();
    // Opening the page in view, or logging in, is a person asking for Blu.
    const personAsked = screen !== "app" && document.visibilityState === "visible";
    if (state) loginUrl = state.launcher ? "/login" : "/api/login";
    if (state && !state.logged_in) {
      showLogin();
      return;
    }
    if (state?.launcher && state.awake === false) {
      void wake.start({ mayWake: personAsked, launcher: true });
      return;
    }
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
