// The event stream client: one session's long-poll of GET /api/sessions/{id}/events, with no DOM.
//
// It keeps the cursor (`after`, `epoch`) and hands each new event to its owner exactly once, in order
// (the position only moves forward, so an event repeated by a restart is skipped). When the server
// cannot continue from the cursor (`reset`: it restarted, so the epoch differs, or the position is older
// than its log) the cursor moves to the server's `next` and the owner reloads what is stored before the
// stream goes on. Failures back off (1, 2, 4… up to 10 s); `kick()` restarts at once. See docs/ui.md,
// "Streaming and reconnecting".
import { api, ApiError, NetworkError, UNREACHABLE_STATUSES } from "./api";
import type { EventsPage, StreamEvent } from "./events";

export const POLL_WAIT_SECONDS = 25;
/** A poll that has not answered this long is given up (the server answers within `wait`). */
export const POLL_TIMEOUT_MS = 35_000;
/** At most one early restart this often: a gateway that keeps failing must not become a tight loop. */
export const KICK_INTERVAL_MS = 2000;
export const MAX_BACKOFF_MS = 10_000;

/** No answer from Blu: a network error, or a gateway's 502/503/504. */
export function isUnreachable(error: unknown): boolean {
  return error instanceof NetworkError || (error instanceof ApiError && UNREACHABLE_STATUSES.has(error.status));
}

/** How long to wait after the `failures`-th failure in a row (`timedOut`: the poll was given up). */
export function backoffDelay(failures: number, timedOut: boolean): number {
  return timedOut && failures === 1 ? 0 : Math.min(1000 * 2 ** (failures - 1), MAX_BACKOFF_MS);
}

export type FetchPage = (sessionId: string, after: number, epoch: string | null, wait: number, signal: AbortSignal) => Promise<EventsPage>;

/** The events route through api.ts. Its page says `data: Record<string, unknown>`; events.ts names the shapes. */
const fetchEvents: FetchPage = (sessionId, after, epoch, wait, signal) =>
  api.events(sessionId, after, epoch, wait, signal) as Promise<unknown> as Promise<EventsPage>;

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export interface StreamHandlers {
  /** A new event, in `seq` order, once. */
  event(event: StreamEvent): void;
  /** A page's events were all handed over (a good moment to render). */
  page(): void;
  /** The cursor moved to the server's head: reload what is stored. The stream waits for it, then goes on. */
  reset(): Promise<void>;
  /** Whether the stream is failing to reach Blu (shown as "Reconnecting to Blu…"). */
  reconnecting(on: boolean): void;
  /** The session does not exist (404); the stream has stopped. */
  missing(): void;
}

export interface StreamOptions {
  sessionId: string;
  /** Start after this position: 0 replays this server's whole log, `events_head` only what comes next. */
  after: number;
  epoch: string | null;
  handlers: StreamHandlers;
  fetchPage?: FetchPage;
  /** Waits between failures; resolves early when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
  pollTimeoutMs?: number;
}

export class EventStream {
  readonly sessionId: string;
  /** The last position handed over (the next poll asks for what follows). */
  after: number;
  epoch: string | null;

  private readonly handlers: StreamHandlers;
  private readonly fetchPage: FetchPage;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly pollTimeoutMs: number;
  private alive = true;
  private generation = 0;
  private pollAbort: AbortController | null = null;
  private backoffAbort: AbortController | null = null;
  private lastKick = -Infinity;
  private failing = false;

  constructor(options: StreamOptions) {
    this.sessionId = options.sessionId;
    this.after = options.after;
    this.epoch = options.epoch;
    this.handlers = options.handlers;
    this.fetchPage = options.fetchPage ?? fetchEvents;
    this.sleep = options.sleep ?? abortableSleep;
    this.now = options.now ?? Date.now;
    this.pollTimeoutMs = options.pollTimeoutMs ?? POLL_TIMEOUT_MS;
  }

  /** (Re)start polling from the cursor; a poll in flight is dropped. */
  start(): void {
    if (!this.alive) return;
    this.generation += 1;
    this.pollAbort?.abort();
    void this.loop(this.generation);
  }

  /** Restart now (tab visible again, network back, Blu woke up), at most once per KICK_INTERVAL_MS. */
  kick(): boolean {
    const now = this.now();
    if (now - this.lastKick < KICK_INTERVAL_MS) return false;
    this.lastKick = now;
    this.backoffAbort?.abort();
    this.start();
    return true;
  }

  stop(): void {
    this.alive = false;
    this.generation += 1;
    this.pollAbort?.abort();
    this.backoffAbort?.abort();
  }

  private current(generation: number): boolean {
    return this.alive && generation === this.generation;
  }

  private setFailing(on: boolean): void {
    if (this.failing === on) return;
    this.failing = on;
    this.handlers.reconnecting(on);
  }

  private async loop(generation: number): Promise<void> {
    let failures = 0;
    while (this.current(generation)) {
      const controller = new AbortController();
      this.pollAbort = controller;
      const timer = setTimeout(() => controller.abort(), this.pollTimeoutMs);
      try {
        const page = await this.fetchPage(this.sessionId, this.after, this.epoch, failures ? 0 : POLL_WAIT_SECONDS, controller.signal);
        clearTimeout(timer);
        if (!this.current(generation)) return;
        failures = 0;
        this.setFailing(false);
        if (page.reset) {
          this.after = page.next;
          this.epoch = page.epoch;
          await this.handlers.reset();
          continue;
        }
        for (const event of page.events) {
          if (event.seq <= this.after) continue; // already handed over
          this.handlers.event(event);
          this.after = event.seq;
          if (!this.current(generation)) return; // stopped by the owner (e.g. on `session.deleted`): nothing more
        }
        this.after = Math.max(this.after, page.next);
        this.epoch = page.epoch;
        this.handlers.page();
      } catch (error) {
        clearTimeout(timer);
        if (!this.current(generation)) return;
        if (error instanceof ApiError && error.status === 401) return; // the login screen takes over
        if (error instanceof ApiError && error.status === 404) return this.handlers.missing();
        const timedOut = controller.signal.aborted;
        failures += 1;
        if (!timedOut || failures > 1) this.setFailing(true);
        this.backoffAbort = new AbortController();
        await this.sleep(backoffDelay(failures, timedOut), this.backoffAbort.signal);
        if (isUnreachable(error)) failures = Math.min(failures, 4);
      }
    }
  }
}
