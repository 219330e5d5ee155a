// The settings page's Backups section: snapshots listed with time, size and what they hold; take one now,
// download one as an archive, or restore everything from one (after saying what it replaces).
import { ApiError, request } from "./api";
import { h } from "./dom";
import { formatBytes, formatTime, sleep } from "./format";
import type { components } from "./generated/api";
import { registerSection } from "./settings";

type Schemas = components["schemas"];

/** Dispatched on `window` when a restore from this page is done (the app listens: web/src/app.ts). */
export const RESTORED = "blu:restored";
type SnapshotList = Schemas["SnapshotList"];
type Snapshot = Schemas["Snapshot"];
type Operation = NonNullable<Schemas["CurrentOperation"]["operation"]>;

const api = {
  list: () => request<SnapshotList>("GET", "/api/backups"),
  take: () => request<Schemas["OperationStarted"]>("POST", "/api/backups"),
  operation: () => request<Schemas["CurrentOperation"]>("GET", "/api/backups/operation"),
  preview: (id: string) => request<Schemas["AllPreview"]>("POST", `/api/backups/${encodeURIComponent(id)}/preview`, { json: {} }),
  restore: (id: string) => request<Schemas["OperationStarted"]>("POST", `/api/backups/${encodeURIComponent(id)}/restore`, { json: {} }),
  download: (id: string) => request<Schemas["DownloadLink"]>("POST", `/api/backups/${encodeURIComponent(id)}/download`),
};

/** What `finished` answers when Blu restarted while the operation ran: a new process knows nothing of it. */
export const RESTARTED = "restarted";
const RESTART_POLLS = 180; // a second each: a wake of a stopped task takes a minute or two

/** Poll the background operation until it ends (a snapshot or a restore takes seconds to minutes). When Blu
 * restarts meanwhile (no answer, or 502/503 while it starts) it waits for it to answer again: the new process
 * has no operation, and `RESTARTED` says so (a restore cut short was finished or undone as Blu started). */
export async function finished(
  status: HTMLElement,
  read: () => Promise<Schemas["CurrentOperation"]> = api.operation,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<Operation | null | typeof RESTARTED> {
  let lost = 0;
  for (;;) {
    let operation: Operation | null | undefined;
    try {
      ({ operation } = await read());
    } catch (error) {
      const starting = error instanceof ApiError ? error.status === 502 || error.status === 503 : true;
      if (!starting || ++lost > RESTART_POLLS) throw error;
      status.textContent = "Blu is restarting…";
      await wait(1000);
      continue;
    }
    if (!operation || operation.state !== "running") return lost && !operation ? RESTARTED : (operation ?? null);
    status.textContent = operation.kind === "restore" ? "Restoring…" : "Taking a snapshot…";
    await wait(1000);
  }
}

/** What a snapshot holds, in a line: "12 sessions, 340 messages · 52 files". */
function holds(snapshot: Snapshot): string {
  const { store, workspace } = snapshot.contents;
  const items = ["session", "message"].filter((kind) => store[kind]).map((kind) => count(store[kind], kind));
  return [items.join(", "), count(workspace.files, "file")].filter(Boolean).join(" · ");
}

/** "1 session", "3 files": a count with its noun. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** The question before restoring everything: what the snapshot brings back and what it replaces, with the
 * person's own files (the workspace) counted apart from Claude's own state (its transcripts, memory and
 * settings), which nobody thinks of as "files" of theirs. */
export function restoreQuestion(snapshot: Snapshot, preview: Schemas["AllPreview"]): string {
  const { store, workspace } = snapshot.contents;
  const { current } = preview;
  const gone = preview.sessions_removed.length;
  return [
    `Restore the snapshot of ${formatTime(snapshot.created_at)}?`,
    `It brings back ${count(store.session ?? 0, "session")} (${count(store.message ?? 0, "message")}) and ` +
      `${count(workspace.files, "file")} in your workspace (${formatBytes(workspace.bytes)}).`,
    `It replaces everything here now: ${count(current.sessions, "session")} and ` +
      `${count(current.workspace.files, "file")} in your workspace (${formatBytes(current.workspace.bytes)}), ` +
      "with Claude's own state (its conversation transcripts, memory and settings)." +
      (gone ? ` ${count(gone, "session")} made since would go.` : ""),
    "A snapshot of what it replaces is taken first.",
  ].join("\n\n");
}

async function render(body: HTMLElement): Promise<void> {
  const status = h("p", { class: "muted", role: "status", "data-testid": "backups-status" });
  const list = h("ul", { class: "backups__list", "data-testid": "backups-list" });
  const take = h("button", { type: "button", class: "button" }, "Take a snapshot now");
  body.replaceChildren(
    h("p", { class: "muted" }, "Everything you would miss: sessions, messages, files, Claude's memory and transcripts, schedules."),
    take,
    status,
    list,
  );
  const refresh = async (): Promise<void> => {
    const page = await api.list();
    status.textContent = `${page.daily ? "Daily snapshots are on" : "Daily snapshots are off"} · kept in ${page.storage === "s3" ? "the backups bucket" : "this machine's data folder"}.`;
    list.replaceChildren(
      ...(page.snapshots.length ? page.snapshots : []).map((s) => {
        const download = h("button", { type: "button", class: "button button--small" }, "Download");
        const restore = h("button", { type: "button", class: "button button--small" }, "Restore everything…");
        download.addEventListener("click", async () => {
          try {
            const link = await api.download(s.id);
            window.location.assign(link.url);
          } catch (error) {
            status.textContent = `Couldn't download it: ${(error as Error).message}`;
          }
        });
        restore.addEventListener("click", async () => {
          let done: Operation | null | typeof RESTARTED;
          try {
            if (!window.confirm(restoreQuestion(s, await api.preview(s.id)))) return;
            await api.restore(s.id);
            done = await finished(status);
          } catch (error) {
            status.textContent =
              error instanceof ApiError
                ? `Couldn't restore: ${error.message}`
                : "Blu did not answer (it may be restarting). A restore that had begun is finished or undone as " +
                  "Blu starts: look at the list again in a minute.";
            return;
          }
          // The list now holds the snapshot of what was replaced ("pre-restore"): shown at once.
          await refresh().catch(() => undefined);
          if (done === RESTARTED) {
            status.textContent =
              "Blu restarted during the restore. As it starts it finishes a restore that had begun to replace " +
              "things, or keeps everything as it was: the sessions list shows which.";
            window.dispatchEvent(new Event(RESTORED));
          } else if (done?.state === "done") {
            status.textContent = "Restored. The sessions list now shows what the snapshot holds.";
            // The page shows the store as it was: the app reloads its list and leaves an open session that is gone.
            window.dispatchEvent(new Event(RESTORED));
          } else status.textContent = `Restore failed: ${done?.error ?? "unknown"}`;
        });
        return h(
          "li",
          { class: "backups__item", "data-snapshot-id": s.id },
          h("span", null, `${formatTime(s.created_at)} · ${formatBytes(s.size)} · ${s.reason}`),
          h("span", { class: "muted" }, holds(s)),
          h("span", { class: "backups__actions" }, download, restore),
        );
      }),
    );
    if (!page.snapshots.length) list.append(h("li", { class: "muted" }, "No snapshot yet."));
  };
  // A snapshot takes well under a second here: the button is off while one runs (one this page started, or
  // one still running when the section opens again), and the line then says it was taken, which snapshot
  // it is, so the person sees their click did something and does not click again for another copy.
  const follow = async (): Promise<void> => {
    take.disabled = true;
    status.textContent = "Taking a snapshot…";
    try {
      const done = await finished(status);
      if (done === RESTARTED) {
        await refresh();
        status.textContent = "Blu restarted while taking the snapshot: the list shows whether it was kept.";
        return;
      }
      if (done?.state === "failed") {
        status.textContent = `The snapshot failed: ${done.error ?? "unknown"}`;
        return;
      }
      await refresh();
      const made = done?.result as { id?: string; created_at?: number; size?: number } | null | undefined;
      if (made?.id && typeof made.created_at === "number") {
        list.querySelector(`[data-snapshot-id="${made.id}"]`)?.classList.add("backups__item--new");
        status.textContent = `Snapshot taken at ${formatTime(made.created_at)} (${formatBytes(made.size ?? 0)}): it is first in the list.`;
      }
    } finally {
      take.disabled = false;
    }
  };
  take.addEventListener("click", async () => {
    take.disabled = true;
    try {
      await api.take();
    } catch (error) {
      status.textContent = `Couldn't take a snapshot: ${(error as Error).message}`;
      take.disabled = false;
      return;
    }
    await follow().catch((error: unknown) => {
      status.textContent = `Couldn't take a snapshot: ${(error as Error).message}`;
    });
  });
  await refresh();
  const { operation } = await api.operation();
  if (operation?.state === "running" && operation.kind === "snapshot") await follow();
}

registerSection({ id: "backups", title: "Backups", order: 70, render: (body) => render(body) });
