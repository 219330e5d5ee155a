// Small formatting helpers shared by the views.

/** Who wrote a message, as the chat's card and a search hit both name it: the person ("You"), Blu's own note
 * (a late approval answer carried in), a scheduled run's prompt, Blu's reply, or a system note. A record
 * from before `sent_by` is the person's. */
export function authorOf(role: "user" | "assistant" | "system", sentBy?: "person" | "blu" | "schedule" | null): string {
  if (role === "assistant") return "Blu";
  if (role === "system") return "System";
  return { person: "You", blu: "Blu's note", schedule: "Scheduled run" }[sentBy ?? "person"];
}

export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 100_000) return `${(n / 1000).toFixed(1).replace(/\.0$/, "")}k`;
  if (n < 1_000_000) return `${Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, "")}M`;
}

export function formatCost(usd: number): string {
  if (!usd) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  if (usd < 1) return `$${usd.toFixed(3)}`;
  return `$${usd.toFixed(2)}`;
}

interface Usage {
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

/** The usage line of a reply or of a session's totals. `partial`: a model call was stopped before it
 * reported, so the output count is at least the figure shown ("340+ out"), or not known when none
 * finished; a cost of 0 then means Claude never reported one (the reply ended before Claude's result,
 * e.g. Blu was killed), so it is "cost not counted", never "$0". `costFloor`: a known cost leaves some out
 * ("$0.018+", a session's total once a stopped reply is in it). */
function usageLine(m: Usage, partial: boolean, costFloor: boolean): { text: string; title: string } {
  const out = !partial ? `${formatTokens(m.output_tokens)} out` : m.output_tokens ? `${formatTokens(m.output_tokens)}+ out` : "output not counted";
  const outTitle = !partial
    ? `${m.output_tokens} output tokens`
    : `output tokens not known for the model call that was stopped${m.output_tokens ? ` (${m.output_tokens} from the calls that finished)` : ""}`;
  const costKnown = !partial || m.cost_usd > 0;
  const cost = !costKnown ? "cost not counted" : formatCost(m.cost_usd) + (costFloor ? "+" : "");
  const costTitle = !costKnown
    ? "cost not known (the reply ended before Claude reported it)"
    : costFloor
      ? `at least $${m.cost_usd.toFixed(6)} (a stopped reply's cost may be left out)`
      : `$${m.cost_usd.toFixed(6)}`;
  return { text: `${formatTokens(m.input_tokens)} in · ${out} · ${cost}`, title: `${m.input_tokens} input tokens, ${outTitle}, ${costTitle}` };
}

/** A reply's usage line, "1.2k in · 340 out · $0.004", and its longer title. The Messages API reports a
 * model call's output tokens only when the call ends, so a stopped (`interrupted`) reply's count covers
 * only the calls that finished: "340+ out" (at least that many), or no output figure when none finished,
 * and a cost Claude never reported is "cost not counted": never a made-up figure. Empty for a reply with no
 * usage yet; a reply still running shows what was reported so far and "…" for the rest. */
export function usageText(m: Usage & { state: string }): { text: string; title: string } {
  if (!m.input_tokens && !m.output_tokens) return { text: "", title: "" };
  if (m.state === "running") return soFar(m);
  return usageLine(m, m.state === "interrupted", false);
}

/** A running reply's usage: the figures reported so far and "…" ("4.3k in · …"), never "0 out · $0" (its
 * output is counted as each model call ends, its cost once the reply ends). */
function soFar(m: Usage): { text: string; title: string } {
  const parts = [m.input_tokens ? `${formatTokens(m.input_tokens)} in` : "", m.output_tokens ? `${formatTokens(m.output_tokens)} out` : ""];
  const counted = [m.input_tokens ? `${m.input_tokens} input tokens` : "", m.output_tokens ? `${m.output_tokens} output tokens` : ""];
  return {
    text: [...parts.filter(Boolean), "…"].join(" · "),
    title: `So far ${counted.filter(Boolean).join(", ")}; the rest and the cost are reported as the reply ends`,
  };
}

/** The session header's totals, marked as a reply's footer is (`usageText`): once any reply of the session
 * was stopped mid-call (`stopped_replies`, docs/protocol.md) its output count is at least the figure shown
 * ("94+ out"), or not known when nothing was counted, and so is its cost ("$0.018+", or "cost not counted").
 * Empty before any usage is reported (during a session's first turn: the totals count a reply once it
 * ends), never a made-up "0 in · 0 out · $0". */
export function sessionUsageText(s: Usage & { stopped_replies: number }): {
  text: string;
  title: string;
} {
  if (!s.input_tokens && !s.output_tokens) return { text: "", title: "No usage reported yet" };
  const stopped = s.stopped_replies > 0;
  return usageLine(s, stopped, stopped);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" }) +
        " " +
        d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function relativeTime(epochSeconds: number): string {
  const s = Math.max(0, Date.now() / 1000 - epochSeconds);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 86400 * 7) return `${Math.floor(s / 86400)} d ago`;
  return new Date(epochSeconds * 1000).toLocaleDateString([], { month: "short", day: "numeric" });
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A random id for Idempotency-Key headers and local placeholders (works outside secure contexts too). */
export function randomId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        window.clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
