// The waking overlay: shown while Blu is asleep or unreachable, gone when it answers again.
//
// It needs nothing from the rest of the UI, so the launcher Lambda can serve the same built page while
// the container is stopped. Interface:
//
//   const wake = createWakeOverlay({ onReady });   // options below, all optional
//   wake.start({ mayWake });  // begin watching (idempotent); the returned promise resolves when Blu is ready
//   wake.stop();         // give up and hide
//   wake.active          // true while watching
//
// Each round (every `pollMs`, 3 s by default) it asks `healthUrl`; 200 {"status":"ok"} means ready. Else it asks `statusUrl`:
//   200 {"status": "stopped"|"starting"|"running"|"stopping", "stage"?, "started_at"?, "elapsed_seconds"?,
//        "stages"?: string[], "expected_seconds"?: number, "message"?: string}  → the launcher answers:
//        stopped → POST `wakeUrl` only on a person's action: the page opened while visible (`mayWake`), a
//                  login on the overlay, or its "Wake Blu" button. A tab that lost Blu to the idle rule shows
//                  "Blu is asleep" and waits for the button (an untouched or hidden tab never wakes Blu);
//                  a 401 shows a login form posting to `loginUrl`,
//        starting → shows the stage and the elapsed time (and progress when stages or expected_seconds are given),
//        running → ready as soon as `healthUrl` answers 200 (until then "almost ready").
//   401 → the launcher wants a login first: the login form.
//   anything else (no launcher: the local runtime, or no network) → "Reconnecting…" until `healthUrl` answers
//   ("You're offline" while the browser says it has no network; its `online` event asks again at once).

import { createLoginForm } from "../login-form";
import "./overlay.css";

export type WakePhase = "checking" | "reconnecting" | "asleep" | "waking" | "starting" | "stopping" | "login" | "ready";

export interface StartOptions {
  /** Whether a person's action started this (the page opened in view): then a sleeping Blu is woken at once. */
  mayWake?: boolean;
  /** The launcher answers (GET /login said so): ask `/status` first and `/health` only once it says running. */
  launcher?: boolean;
}

export interface LauncherStatus {
  status: "stopped" | "starting" | "running" | "stopping";
  stage?: string | null;
  started_at?: number | string | null;
  elapsed_seconds?: number | null;
  stages?: string[];
  expected_seconds?: number | null;
  message?: string | null;
  /** The service's desired count: 0 while going to sleep, 1 once a wake was asked for. */
  desired?: number;
}

export interface WakeOptions {
  statusUrl?: string;
  wakeUrl?: string;
  healthUrl?: string;
  loginUrl?: string;
  /** Milliseconds between status polls. */
  pollMs?: number;
  /** Milliseconds between status polls while asleep and waiting for the person (none while the tab is hidden). */
  asleepPollMs?: number;
  /** Wait this long before showing the overlay for a blip that may fix itself (local reconnects). */
  showDelayMs?: number;
  /** Where the overlay is attached. */
  container?: HTMLElement;
  onReady?: () => void;
  onPhase?: (phase: WakePhase) => void;
}

export interface WakeController {
  start(options?: StartOptions): Promise<void>;
  stop(): void;
  readonly active: boolean;
  readonly phase: WakePhase;
}

const DEFAULT_STAGES = ["Asleep", "Waking", "Provisioning", "Pending", "Activating", "Running", "Ready"];

function humanize(stage: string): string {
  const words = stage.replace(/[_-]+/g, " ").trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

function startedAtSeconds(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value > 1e12 ? value / 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed / 1000;
}

export function createWakeOverlay(options: WakeOptions = {}): WakeController {
  const statusUrl = options.statusUrl ?? "/status";
  const wakeUrl = options.wakeUrl ?? "/wake";
  const healthUrl = options.healthUrl ?? "/health";
  const loginUrl = options.loginUrl ?? "/login";
  const pollMs = options.pollMs ?? 3000;
  const asleepPollMs = options.asleepPollMs ?? 10_000;
  const showDelayMs = options.showDelayMs ?? 700;

  let active = false;
  let phase: WakePhase = "ready";
  let timer: number | undefined;
  let ticker: number | undefined;
  let showTimer: number | undefined;
  let waiters: (() => void)[] = [];
  let wokenAt = 0;
  let mayWake = false;
  // Once a launcher answered, /health is asked only when it reports "running": a sleeping Blu's /health
  // is a 503 from API Gateway, an error in the console on every round.
  let statusFirst = false;
  let lostAt = 0;
  let elapsedBase: { seconds: number; at: number } | null = null;
  let root: HTMLDivElement | null = null;
  const inerted: HTMLElement[] = [];
  let parts: {
    title: HTMLElement;
    detail: HTMLElement;
    stage: HTMLElement;
    elapsed: HTMLElement;
    progress: HTMLProgressElement;
    steps: HTMLOListElement;
    login: HTMLElement;
    wakeButton: HTMLButtonElement;
  } | null = null;

  const build = () => {
    if (root) return;
    root = document.createElement("div");
    root.id = "wake-overlay";
    root.className = "wake";
    root.setAttribute("role", "dialog");
    root.setAttribute("aria-modal", "true");
    root.setAttribute("aria-labelledby", "wake-title");
    root.setAttribute("aria-describedby", "wake-detail");
    root.hidden = true;
    root.dataset.phase = phase;
    const card = document.createElement("div");
    card.className = "wake__card";
    const spinner = document.createElement("div");
    spinner.className = "wake__spinner";
    spinner.setAttribute("aria-hidden", "true");
    const title = document.createElement("h2");
    title.id = "wake-title";
    title.className = "wake__title";
    const detail = document.createElement("p");
    detail.id = "wake-detail";
    detail.className = "wake__detail";
    detail.setAttribute("aria-live", "polite");
    const meta = document.createElement("p");
    meta.className = "wake__meta";
    const stage = document.createElement("span");
    stage.className = "wake__stage";
    stage.setAttribute("data-testid", "wake-stage");
    const elapsed = document.createElement("span");
    elapsed.className = "wake__elapsed";
    elapsed.setAttribute("data-testid", "wake-elapsed");
    meta.append(stage, elapsed);
    const progress = document.createElement("progress");
    progress.className = "wake__progress";
    progress.setAttribute("aria-label", "Progress");
    const steps = document.createElement("ol");
    steps.className = "wake__steps";
    steps.setAttribute("aria-label", "Stages");
    const login = document.createElement("div");
    login.className = "wake__login";
    login.hidden = true;
    const wakeButton = document.createElement("button");
    wakeButton.type = "button";
    wakeButton.className = "wake__button";
    wakeButton.setAttribute("data-testid", "wake-button");
    wakeButton.textContent = "Wake Blu";
    wakeButton.hidden = true;
    wakeButton.addEventListener("click", () => {
      mayWake = true;
      wakeButton.disabled = true;
      void wake().then(() => {
        wakeButton.disabled = false;
        schedule(1000);
      });
    });
    card.append(spinner, title, detail, meta, progress, steps, login, wakeButton);
    root.append(card);
    (options.container ?? document.body).append(root);
    parts = { title, detail, stage, elapsed, progress, steps, login, wakeButton };
  };

  const setPhase = (next: WakePhase) => {
    phase = next;
    if (root) root.dataset.phase = next;
    options.onPhase?.(next);
  };

  const show = () => {
    build();
    window.clearTimeout(showTimer);
    showTimer = undefined;
    if (root && root.hidden) {
      root.hidden = false;
      document.documentElement.classList.add("wake-open");
      // Modal: the page behind can't be reached by Tab or a screen reader while Blu is away.
      for (const sibling of Array.from(document.body.children) as HTMLElement[]) {
        if (sibling !== root && !sibling.inert) {
          sibling.inert = true;
          inerted.push(sibling);
        }
      }
    }
  };

  const renderElapsed = () => {
    if (!parts) return;
    let seconds: number | null = null;
    if (elapsedBase) seconds = elapsedBase.seconds + (Date.now() - elapsedBase.at) / 1000;
    else if (lostAt) seconds = (Date.now() - lostAt) / 1000;
    parts.elapsed.textContent = seconds === null ? "" : formatElapsed(seconds);
  };

  const render = (title: string, detail: string, status?: LauncherStatus) => {
    build();
    if (!parts) return;
    parts.title.textContent = title;
    parts.detail.textContent = detail;
    parts.stage.textContent = status?.stage ? humanize(status.stage) : "";
    parts.login.hidden = phase !== "login";
    parts.wakeButton.hidden = phase !== "asleep";
    // Progress: by stage position when the launcher lists its stages, else by expected time, else indeterminate.
    const stages = status?.stages?.length ? status.stages : null;
    const current = status?.stage ?? null;
    parts.steps.replaceChildren();
    let value: number | null = null;
    if (stages && current) {
      const index = stages.findIndex((s) => s.toLowerCase() === current.toLowerCase());
      stages.forEach((s, i) => {
        const li = document.createElement("li");
        li.textContent = humanize(s);
        li.className = i < index ? "done" : i === index ? "current" : "";
        if (i === index) li.setAttribute("aria-current", "step");
        parts?.steps.append(li);
      });
      if (index >= 0) value = (index + 0.5) / stages.length;
    } else if (status?.expected_seconds && elapsedBase) {
      value = Math.min(0.95, (elapsedBase.seconds + (Date.now() - elapsedBase.at) / 1000) / status.expected_seconds);
    }
    parts.steps.hidden = !stages;
    if (value === null) parts.progress.removeAttribute("value");
    else parts.progress.value = value;
    parts.progress.hidden = phase === "login" || phase === "reconnecting" || phase === "asleep";
    renderElapsed();
  };

  const hide = () => {
    window.clearTimeout(showTimer);
    showTimer = undefined;
    if (root) root.hidden = true;
    document.documentElement.classList.remove("wake-open");
    for (const sibling of inerted.splice(0)) sibling.inert = false;
  };

  const finish = () => {
    active = false;
    window.clearTimeout(timer);
    window.clearInterval(ticker);
    setPhase("ready");
    hide();
    lostAt = 0;
    elapsedBase = null;
    wokenAt = 0;
    mayWake = false;
    const done = waiters;
    waiters = [];
    done.forEach((resolve) => resolve());
    options.onReady?.();
  };

  const schedule = (ms = pollMs) => {
    window.clearTimeout(timer);
    timer = undefined;
    // Asleep and waiting for the person: a hidden tab asks nothing until it is in view again.
    if (phase === "asleep" && document.visibilityState === "hidden") return;
    if (active) timer = window.setTimeout(() => void tickOnce(), ms);
  };

  // One round at a time: the `online` event may ask for one while a round is under way.
  let ticking = false;
  const tickOnce = async (): Promise<void> => {
    if (ticking) return;
    ticking = true;
    try {
      await tick();
    } finally {
      ticking = false;
    }
  };

  // Blu unreachable: the device's own network first (the browser knows when it is offline), else Blu.
  const offline = () => navigator.onLine === false;
  const renderReconnecting = () =>
    offline()
      ? render("You're offline", "This device has no network connection. Blu will catch up when you're back online; a reply cut off meanwhile can be retried.")
      : render("Reconnecting…", "Blu isn't answering. This page keeps trying and reconnects by itself; a reply cut off meanwhile can be retried.");
  window.addEventListener("offline", () => {
    if (active && phase === "reconnecting" && parts) renderReconnecting();
  });
  window.addEventListener("online", () => {
    if (!active || phase !== "reconnecting") return;
    if (parts) renderReconnecting();
    window.clearTimeout(timer);
    timer = undefined;
    void tickOnce(); // back online: ask Blu now rather than at the next round
  });

  document.addEventListener("visibilitychange", () => {
    if (active && phase === "asleep" && document.visibilityState === "visible" && timer === undefined) void tick();
  });

  const healthy = async (): Promise<boolean> => {
    try {
      const r = await fetch(healthUrl, { cache: "no-store", credentials: "same-origin" });
      if (!r.ok) return false;
      const body = (await r.json().catch(() => ({}))) as { status?: string };
      return !body.status || body.status === "ok";
    } catch {
      return false;
    }
  };

  const showLogin = () => {
    setPhase("login");
    show();
    render("Log in to wake Blu", "Blu is asleep. Log in and it starts right away.");
    if (parts && !parts.login.firstChild) {
      parts.login.append(
        createLoginForm({
          url: loginUrl,
          idPrefix: "wake-login",
          heading: null,
          onSuccess: () => {
            parts?.login.replaceChildren();
            // Logging in on the overlay is the person asking for Blu.
            mayWake = true;
            setPhase("waking");
            wokenAt = 0;
            void tick();
          },
        }),
      );
    }
    if (parts) parts.login.hidden = false;
    parts?.login.querySelector<HTMLInputElement>("input[type=password]")?.focus();
  };

  const wake = async (): Promise<void> => {
    wokenAt = Date.now();
    setPhase("waking");
    show();
    render("Waking Blu…", "Blu was asleep to save costs. Starting it now.", { status: "starting", stage: "Waking", stages: DEFAULT_STAGES });
    try {
      const r = await fetch(wakeUrl, { method: "POST", cache: "no-store", credentials: "same-origin" });
      if (r.status === 401) {
        wokenAt = 0;
        showLogin();
      } else if (!r.ok) {
        wokenAt = 0;
      }
    } catch {
      wokenAt = 0;
    }
  };

  const tick = async (): Promise<void> => {
    if (!active || phase === "login") return;
    // Blu itself first: when it answers there is nothing to wait for (and no launcher is asked).
    if (!statusFirst && (await healthy())) return finish();
    if (!active) return;
    let status: LauncherStatus | null = null;
    try {
      const r = await fetch(statusUrl, { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.status === 401) {
        showLogin();
        return;
      }
      const type = r.headers.get("content-type") || "";
      if (r.ok && type.includes("json")) {
        const body = (await r.json()) as Partial<LauncherStatus>;
        if (typeof body.status === "string") status = body as LauncherStatus;
      }
      statusFirst = status !== null;
    } catch {
      status = null;
    }
    if (!active) return;

    if (!status) {
      // No launcher (the local runtime) or no network: keep asking /health.
      if (phase !== "reconnecting") setPhase("reconnecting");
      if (!lostAt) lostAt = Date.now();
      build();
      if (root?.hidden && showTimer === undefined) {
        showTimer = window.setTimeout(() => {
          showTimer = undefined;
          if (active) show();
        }, showDelayMs);
      }
      renderReconnecting();
      return schedule(Math.min(pollMs, 1500));
    }

    if (typeof status.elapsed_seconds === "number") {
      elapsedBase = { seconds: status.elapsed_seconds, at: Date.now() };
    } else {
      const started = startedAtSeconds(status.started_at);
      elapsedBase = started ? { seconds: Date.now() / 1000 - started, at: Date.now() } : null;
    }
    switch (status.status) {
      case "running":
        if (await healthy()) return finish();
        setPhase("starting");
        show();
        render("Waking Blu…", "Almost ready: waiting for Blu to answer.", { ...status, stage: status.stage ?? "Health check" });
        break;
      case "starting":
        setPhase("starting");
        show();
        render("Waking Blu…", status.message ?? "Blu is starting. This usually takes under a minute.", status);
        break;
      case "stopping":
        if (!status.desired && !mayWake) {
          // Going to sleep and nobody asked for it since: the person decides when it wakes.
          setPhase("asleep");
          show();
          render("Blu is going to sleep", "It saves costs while nobody uses it. Wake it when you need it.", status);
          return schedule(pollMs);
        }
        setPhase("stopping");
        show();
        render("Waking Blu…", status.message ?? "Blu is finishing going to sleep; it wakes again right after.", status);
        if (!status.desired && (!wokenAt || Date.now() - wokenAt > 30_000)) await wake();
        break;
      default: {
        if (!mayWake) {
          // Asleep (the idle rule, or another device): only the person wakes it again.
          setPhase("asleep");
          show();
          elapsedBase = null;
          render("Blu is asleep", status.message ?? "Blu went to sleep to save costs. Wake it when you need it.", {
            ...status,
            stage: "Asleep",
            stages: status.stages ?? DEFAULT_STAGES.slice(0, 2),
          });
          return schedule(asleepPollMs);
        }
        // Ask once per sleep; ask again if the service is still stopped a while later.
        if (!wokenAt || Date.now() - wokenAt > 30_000) {
          await wake();
          if ((phase as WakePhase) !== "login") schedule(1000);
          return;
        }
        setPhase("waking");
        show();
        render("Waking Blu…", status.message ?? "Blu was asleep to save costs. Starting it now.", {
          ...status,
          stage: "Waking",
          stages: status.stages ?? DEFAULT_STAGES,
        });
      }
    }
    if ((phase as WakePhase) !== "login") schedule();
  };

  return {
    start(startOptions: StartOptions = {}): Promise<void> {
      const promise = new Promise<void>((resolve) => waiters.push(resolve));
      if (!active) {
        active = true;
        mayWake = startOptions.mayWake ?? false;
        statusFirst = startOptions.launcher ?? false;
        lostAt = 0;
        setPhase("checking");
        window.clearInterval(ticker);
        ticker = window.setInterval(renderElapsed, 1000);
        void tick();
      }
      return promise;
    },
    stop(): void {
      active = false;
      window.clearTimeout(timer);
      window.clearInterval(ticker);
      hide();
    },
    get active() {
      return active;
    },
    get phase() {
      return phase;
    },
  };
}
