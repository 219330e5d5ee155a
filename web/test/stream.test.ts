import { afterEach, describe, expect, it, vi } from "vitest";
import type { StreamEvent } from "../src/events";
import { backoffDelay, EventStream, type StreamHandlers } from "../src/stream";
import { Log, record } from "./fixtures";

type Answer = { status?: number; body?: unknown } | Error | "hang";

/**
 * A scripted server behind `fetch`: each request takes the next answer ("hang": no answer until the
 * request is aborted). When the script runs out, requests hang and `drained` resolves.
 */
class FakeServer {
  urls: string[] = [];
  private answers: Answer[];
  private onDrained: () => void = () => undefined;
  drained: Promise<void>;

  constructor(answers: Answer[]) {
    this.answers = [...answers];
    this.drained = new Promise((resolve) => (this.onDrained = resolve));
    vi.stubGlobal("fetch", (url: string, init: RequestInit) => this.fetch(url, init));
  }

  private fetch(url: string, init: RequestInit): Promise<Response> {
    this.urls.push(url);
    const answer = this.answers.shift();
    if (answer === undefined || answer === "hang") {
      if (answer === undefined) this.onDrained();
      return new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
    }
    if (answer instanceof Error) return Promise.reject(answer);
    const body = JSON.stringify(answer.body ?? { detail: "x" });
    return Promise.resolve(new Response(body, { status: answer.status ?? 200, headers: { "content-type": "application/json" } }));
  }
}

function page(events: StreamEvent[], next: number, epoch = "A", reset = false) {
  return { body: { events, next, epoch, reset } };
}

/** Handlers that record what the stream told. */
function recorder(reset: () => Promise<void> = async () => undefined) {
  const told: string[] = [];
  const handlers: StreamHandlers = {
    event: (e) => told.push(`event ${e.seq} ${e.type}`),
    page: () => told.push("page"),
    reset: async () => {
      told.push("reset");
      await reset();
    },
    reconnecting: (on) => told.push(`reconnecting ${on}`),
    missing: () => told.push("missing"),
  };
  return { told, handlers };
}

/** Back-off waits recorded and skipped (resolved at once). */
function instantSleep() {
  const delays: number[] = [];
  return { delays, sleep: (ms: number) => (delays.push(ms), Promise.resolve()) };
}

function query(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url, "http://blu").searchParams);
}

/** Let every pending callback and timer of zero delay run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 0));
}

let stream: EventStream | null = null;
afterEach(() => {
  stream?.stop();
  stream = null;
  vi.unstubAllGlobals();
});

function open(options: Partial<ConstructorParameters<typeof EventStream>[0]> & { handlers: StreamHandlers }): EventStream {
  stream = new EventStream({ sessionId: "s1", after: 0, epoch: null, sleep: instantSleep().sleep, ...options });
  stream.start();
  return stream;
}

describe("the event stream", () => {
  it("long-polls from the cursor and hands over each event once, in order", async () => {
    const log = new Log();
    const e1 = log.complete(record("100"));
    const e2 = log.turn({ turn_id: "t1", status: "queued", user_message_id: "100" });
    const e3 = log.delta("t1", "101", "x");
    const server = new FakeServer([page([e1, e2], 2), page([e2, e3], 3), page([], 3)]);
    const { told, handlers } = recorder();
    open({ handlers });
    await server.drained;
    expect(told).toEqual(["event 1 message.complete", "event 2 turn.status", "page", "event 3 message.delta", "page", "page"]);
    expect(server.urls[0]).toBe("/api/sessions/s1/events?after=0&wait=25");
    expect(server.urls.slice(1).map(query)).toEqual([
      { after: "2", wait: "25", epoch: "A" },
      { after: "3", wait: "25", epoch: "A" },
      { after: "3", wait: "25", epoch: "A" },
    ]);
    expect(stream?.after).toBe(3);
  });

  it("starts after a given position and skips what it already has", async () => {
    const log = new Log();
    const events = [log.complete(record("100")), log.complete(record("101")), log.complete(record("102"))];
    const server = new FakeServer([page(events, 3)]);
    const { told, handlers } = recorder();
    open({ handlers, after: 2, epoch: "A" });
    await server.drained;
    expect(told).toEqual(["event 3 message.complete", "page"]);
    expect(query(server.urls[0]!)).toEqual({ after: "2", wait: "25", epoch: "A" });
  });

  it("backs off 1, 2, 4, 8 then 10 s while Blu is unreachable, asking without waiting, and says so once", async () => {
    const log = new Log();
    const server = new FakeServer([
      new TypeError("Failed to fetch"),
      { status: 503 },
      new TypeError("Failed to fetch"),
      { status: 502 },
      new TypeError("Failed to fetch"),
      { status: 504 },
      page([log.complete(record("100"))], 1),
    ]);
    const { told, handlers } = recorder();
    const { delays, sleep } = instantSleep();
    open({ handlers, sleep });
    await server.drained;
    expect(delays).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(server.urls.map((u) => query(u).wait)).toEqual(["25", "0", "0", "0", "0", "0", "0", "25"]);
    expect(told).toEqual(["reconnecting true", "reconnecting false", "event 1 message.complete", "page"]);
  });

  it("starts the back-off again after a success", async () => {
    const server = new FakeServer([{ status: 500 }, { status: 500 }, page([], 0), { status: 500 }]);
    const { handlers } = recorder();
    const { delays, sleep } = instantSleep();
    open({ handlers, sleep });
    await server.drained;
    expect(delays).toEqual([1000, 2000, 1000]);
  });

  it("retries a poll that timed out at once, and says reconnecting only when the retry times out too", async () => {
    const server = new FakeServer(["hang", "hang", page([], 0)]);
    const { told, handlers } = recorder();
    const { delays, sleep } = instantSleep();
    open({ handlers, sleep, pollTimeoutMs: 0 });
    await server.drained;
    expect(delays).toEqual([0, 2000]);
    expect(told).toEqual(["reconnecting true", "reconnecting false", "page"]);
  });

  it("retries a first time-out without saying it is reconnecting", async () => {
    const server = new FakeServer(["hang", page([], 0)]);
    const { told, handlers } = recorder();
    const { delays, sleep } = instantSleep();
    open({ handlers, sleep, pollTimeoutMs: 0 });
    await server.drained;
    expect(delays).toEqual([0]);
    expect(told).toEqual(["page"]);
  });

  it("restarts from the server's head with its new epoch after a reset, once the owner reloaded", async () => {
    const before = new Log();
    before.seq = 40;
    const after = new Log(); // the restarted server numbers its log from 1 again
    let reloaded = false;
    const server = new FakeServer([
      page([before.delta("t1", "101", "x")], 41, "A"),
      page([], 2, "B", true),
      page([after.complete(record("102")), after.complete(record("103")), after.complete(record("104"))], 3, "B"),
    ]);
    const { told, handlers } = recorder(async () => {
      reloaded = true;
    });
    open({ handlers, after: 40, epoch: "A" });
    await server.drained;
    expect(reloaded).toBe(true);
    expect(told).toEqual(["event 41 message.delta", "page", "reset", "event 3 message.complete", "page"]);
    expect(server.urls.slice(1).map(query)).toEqual([
      { after: "41", wait: "25", epoch: "A" },
      { after: "2", wait: "25", epoch: "B" },
      { after: "3", wait: "25", epoch: "B" },
    ]);
    expect(stream?.epoch).toBe("B");
  });

  it("waits for the reload before asking again", async () => {
    let finishReload: () => void = () => undefined;
    const server = new FakeServer([page([], 5, "B", true), page([], 5, "B")]);
    const { told, handlers } = recorder(() => new Promise<void>((resolve) => (finishReload = resolve)));
    open({ handlers, after: 9, epoch: "A" });
    await vi.waitFor(() => expect(told).toEqual(["reset"]));
    expect(server.urls).toHaveLength(1);
    finishReload();
    await server.drained;
    expect(server.urls).toHaveLength(3);
  });

  it("hands over nothing more once its owner stops it (the session was deleted)", async () => {
    const log = new Log();
    const deleted = log.sessionDeleted("s1");
    const late = log.complete(record("100")); // published after the delete: never applied
    const server = new FakeServer([page([deleted, late], 2)]);
    const told: string[] = [];
    const s = open({
      handlers: {
        ...recorder().handlers,
        event: (e) => {
          told.push(`event ${e.seq} ${e.type}`);
          if (e.type === "session.deleted") s.stop();
        },
        page: () => told.push("page"),
      },
    });
    await vi.waitFor(() => expect(told).toEqual(["event 1 session.deleted"]));
    await settle();
    expect(told).toEqual(["event 1 session.deleted"]);
    expect(server.urls).toHaveLength(1);
  });

  it("stops when the session is gone (404), and leaves a 401 to the login screen", async () => {
    const gone = new FakeServer([{ status: 404, body: { detail: "Session not found." } }]);
    const first = recorder();
    open({ handlers: first.handlers });
    await vi.waitFor(() => expect(first.told).toEqual(["missing"]));
    expect(gone.urls).toHaveLength(1);

    const loggedOut = new FakeServer([{ status: 401, body: { detail: "Log in first." } }]);
    const second = recorder();
    const { delays, sleep } = instantSleep();
    open({ handlers: second.handlers, sleep });
    // A stopped loop asks nothing more (a retry would come at once: the back-off is instant here)…
    await settle();
    expect(loggedOut.urls).toHaveLength(1);
    // …and kick() starts it again.
    stream!.kick();
    await loggedOut.drained;
    expect(loggedOut.urls).toHaveLength(2);
    expect(second.told).toEqual([]);
    expect(delays).toEqual([]);
  });

  it("restarts at once on a kick, at most once every 2 s", async () => {
    let now = 1_000_000;
    const server = new FakeServer([new TypeError("offline"), new TypeError("offline")]);
    const { handlers } = recorder();
    const waits: AbortSignal[] = [];
    // A back-off that lasts until it is cut short.
    const sleep = (_ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        waits.push(signal);
        signal.addEventListener("abort", () => resolve());
      });
    open({ handlers, sleep, now: () => now });
    await vi.waitFor(() => expect(waits).toHaveLength(1));
    expect(stream!.kick()).toBe(true);
    expect(waits[0]!.aborted).toBe(true);
    await vi.waitFor(() => expect(waits).toHaveLength(2));
    expect(server.urls).toHaveLength(2);
    now += 1999;
    expect(stream!.kick()).toBe(false);
    expect(waits[1]!.aborted).toBe(false);
    now += 1;
    expect(stream!.kick()).toBe(true);
    await server.drained;
    expect(server.urls).toHaveLength(3);
  });

  it("drops the poll in flight on stop(), and hands nothing over from it", async () => {
    let answer: (r: Response) => void = () => undefined;
    let signal: AbortSignal | null | undefined;
    vi.stubGlobal("fetch", (_url: string, init: RequestInit) => {
      signal = init.signal;
      return new Promise<Response>((resolve) => (answer = resolve));
    });
    const { told, handlers } = recorder();
    open({ handlers });
    stream!.stop();
    expect(signal?.aborted).toBe(true); // the long-poll's connection is let go
    const log = new Log();
    answer(new Response(JSON.stringify({ events: [log.complete(record("100"))], next: 1, epoch: "A", reset: false }), { headers: { "content-type": "application/json" } }));
    await settle();
    expect(told).toEqual([]);
  });
});

describe("backoffDelay", () => {
  it("doubles from 1 s up to 10 s, and retries a first time-out at once", () => {
    expect([1, 2, 3, 4, 5, 6, 12].map((n) => backoffDelay(n, false))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    expect(backoffDelay(1, true)).toBe(0);
    expect(backoffDelay(2, true)).toBe(2000);
  });
});
