// The Schedules dialog: a person's scheduled runs (prompt, when, where, limits), created, edited, paused,
// run now and deleted here; each with its latest runs and how they ended. Its own API calls, so the
// shared api.ts stays as it is.
import { api, ApiError, request, type SessionRecord } from "./api";
import { announce, h } from "./dom";
import { formatCost, relativeTime } from "./format";
import "./schedules.css";

export type RunOutcome = "running" | "complete" | "error" | "interrupted" | "limit_minutes" | "limit_usd" | "skipped";

export interface ScheduleRun {
  schedule_id: string;
  id: string;
  trigger: "schedule" | "manual";
  due_at: number;
  started_at: number | null;
  finished_at: number | null;
  outcome: RunOutcome;
  late: boolean;
  missed: number;
  session_id: string | null;
  turn_id: string | null;
  cost_usd: number;
  error: string | null;
}

export interface Schedule {
  id: string;
  name: string;
  prompt: string;
  cron: string;
  repeat: string;
  run_at: number | null;
  timezone: string;
  target: "new" | "session";
  session_id: string | null;
  max_minutes: number | null;
  max_usd: number | null;
  paused: boolean;
  created_at: number;
  updated_at: number;
  next_run_at: number | null;
  last_run_at: number | null;
  runs: ScheduleRun[];
}

interface ScheduleList {
  schedules: Schedule[];
  min_interval_minutes: number;
  repeat_forms: string[];
}

export type ScheduleInput = Partial<Omit<Schedule, "id" | "runs" | "run_at" | "created_at" | "updated_at" | "next_run_at" | "last_run_at">> & {
  run_at?: string | null;
};

const q = encodeURIComponent;
export const schedulesApi = {
  list: () => request<ScheduleList>("GET", "/api/schedules"),
  create: (body: ScheduleInput) => request<Schedule>("POST", "/api/schedules", { json: body }),
  edit: (id: string, body: ScheduleInput) => request<Schedule>("PATCH", `/api/schedules/${q(id)}`, { json: body }),
  pause: (id: string, paused: boolean) => request<Schedule>("POST", `/api/schedules/${q(id)}/${paused ? "pause" : "resume"}`),
  remove: (id: string) => request<void>("DELETE", `/api/schedules/${q(id)}`),
  runNow: (id: string) => request<ScheduleRun>("POST", `/api/schedules/${q(id)}/run`),
};

const OUTCOMES: Record<RunOutcome, [string, string]> = {
  running: ["Running", "badge--live"],
  complete: ["Done", "badge--ok"],
  error: ["Failed", "badge--error"],
  interrupted: ["Interrupted", "badge--warn"],
  limit_minutes: ["Stopped: time limit", "badge--warn"],
  limit_usd: ["Stopped: cost limit", "badge--warn"],
  skipped: ["Skipped", "badge--muted"],
};
const REFRESH_MS = 5000;

/** A field of the schedule form. */
export type ScheduleField =
  | "name"
  | "prompt"
  | "kind"
  | "repeat"
  | "cron"
  | "runAt"
  | "timezone"
  | "target"
  | "session"
  | "maxMinutes"
  | "maxUsd";

const BODY_FIELDS: Record<string, ScheduleField> = {
  name: "name",
  prompt: "prompt",
  repeat: "repeat",
  cron: "cron",
  run_at: "runAt",
  timezone: "timezone",
  target: "target",
  session_id: "session",
  max_minutes: "maxMinutes",
  max_usd: "maxUsd",
};

/** Which field of the form a refused save is about, so its error can sit on it and go once it is changed:
 * a 422 names the field (`loc`, runtime/api/schedules.py); null: the form as a whole. */
export function errorField(status: number, body: unknown): ScheduleField | null {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (status !== 422 || !Array.isArray(detail)) return null;
  const loc = (detail[0] as { loc?: unknown[] } | undefined)?.loc ?? [];
  return BODY_FIELDS[String(loc[loc.length - 1])] ?? null;
}

/** The message of a refused save: the server's sentence, or each refused field's reason (422) under the
 * form's own label for that field (`label`), never the API's name for it. */
export function errorText(error: unknown, label: (field: ScheduleField) => string): string {
  if (!(error instanceof ApiError)) return "Couldn't save the schedule.";
  const detail = (error.body as { detail?: unknown } | null)?.detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((d: { loc?: unknown[]; msg?: unknown }) => {
        const field = BODY_FIELDS[String(d.loc?.[d.loc.length - 1] ?? "")];
        const reason = String(d.msg ?? "").replace(/\.?$/, ".");
        return field ? `${label(field)}: ${reason}` : reason;
      })
      .join(" ");
  }
  return error.detail || error.message;
}

export interface SchedulesHost {
  toast(text: string, kind?: "info" | "error"): void;
  openSession(id: string): void;
}

function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function when(at: number | null, timeZone: string): string {
  if (at === null) return "—";
  try {
    return new Date(at * 1000).toLocaleString(undefined, { timeZone, dateStyle: "medium", timeStyle: "short" });
  } catch {
    return new Date(at * 1000).toLocaleString();
  }
}

function describe(s: Schedule): string {
  if (s.repeat) return s.repeat;
  if (s.cron) return `cron ${s.cron}`;
  return `once, ${when(s.run_at, s.timezone)}`;
}

/** The value a datetime-local input shows for an epoch time in a zone ("2026-12-01T08:00"). */
function localInputValue(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(at * 1000));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "00";
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}`;
}

export class SchedulesDialog {
  readonly element: HTMLDialogElement;
  private list: HTMLElement;
  private form: HTMLFormElement;
  private formTitle: HTMLElement;
  private formError: HTMLElement;
  private note: HTMLElement;
  private editing: Schedule | null = null;
  /** The field the shown error is about (null: the whole form), until it is changed or a save succeeds. */
  private errorOn: ScheduleField | null = null;
  private timer = 0;
  private fields: {
    name: HTMLInputElement;
    prompt: HTMLTextAreaElement;
    kind: HTMLSelectElement;
    repeat: HTMLInputElement;
    cron: HTMLInputElement;
    runAt: HTMLInputElement;
    timezone: HTMLInputElement;
    target: HTMLSelectElement;
    session: HTMLSelectElement;
    maxMinutes: HTMLInputElement;
    maxUsd: HTMLInputElement;
  };

  constructor(private host: SchedulesHost) {
    const input = (id: string, props: Record<string, unknown> = {}) => h("input", { id, class: "schedules__input", autocomplete: "off", ...props });
    this.fields = {
      name: input("schedule-name", { maxlength: "120", placeholder: "Morning briefing" }),
      prompt: h("textarea", { id: "schedule-prompt", class: "schedules__input", rows: "3", required: true, placeholder: "What Blu should do each time" }),
      kind: h(
        "select",
        { id: "schedule-kind", class: "schedules__input", onchange: () => this.showKind() },
        h("option", { value: "repeat" }, "Repeat"),
        h("option", { value: "cron" }, "Cron expression"),
        h("option", { value: "once" }, "Once"),
      ),
      repeat: input("schedule-repeat", { placeholder: "every weekday at 08:00" }),
      cron: input("schedule-cron", { placeholder: "0 8 * * 1-5" }),
      runAt: input("schedule-run-at", { type: "datetime-local", step: "1" }),
      timezone: input("schedule-timezone", { placeholder: "Europe/Berlin" }),
      target: h(
        "select",
        { id: "schedule-target", class: "schedules__input", onchange: () => this.showTarget() },
        h("option", { value: "new" }, "A new session each run"),
        h("option", { value: "session" }, "One chosen session"),
      ),
      session: h("select", { id: "schedule-session", class: "schedules__input" }),
      maxMinutes: input("schedule-max-minutes", { type: "number", min: "0.1", step: "any", inputmode: "decimal", placeholder: "none" }),
      maxUsd: input("schedule-max-usd", { type: "number", min: "0.01", step: "any", inputmode: "decimal", placeholder: "none" }),
    };
    const f = this.fields;
    const row = (label: string, control: HTMLElement, extra: Record<string, unknown> = {}) =>
      h("div", { class: "schedules__field", ...extra }, h("label", { for: control.id }, label), control);
    this.formTitle = h("h3", { class: "schedules__form-title" }, "New schedule");
    this.formError = h("p", { id: "schedule-error", class: "schedules__error", role: "alert", hidden: true });
    this.form = h(
      "form",
      { class: "schedules__form", hidden: true, "aria-label": "Schedule", onsubmit: (e: Event) => (e.preventDefault(), void this.save()) },
      this.formTitle,
      row("Name", f.name),
      row("Prompt", f.prompt),
      h("div", { class: "schedules__row" }, row("When", f.kind), row("Time zone", f.timezone)),
      row("Repeat", f.repeat, { "data-kind": "repeat" }),
      row("Cron (minute hour day month weekday)", f.cron, { "data-kind": "cron" }),
      row("Date and time", f.runAt, { "data-kind": "once" }),
      h("div", { class: "schedules__row" }, row("Runs write to", f.target), row("Session", f.session, { "data-target": "session" })),
      h("div", { class: "schedules__row" }, row("Stop after (minutes)", f.maxMinutes), row("Stop above (USD)", f.maxUsd)),
      this.formError,
      h(
        "div",
        { class: "schedules__actions" },
        h("button", { type: "submit", class: "button button--primary" }, "Save schedule"),
        h("button", { type: "button", class: "button", onclick: () => this.closeForm() }, "Cancel"),
      ),
    );
    // An error goes as soon as what it is about changes: its field, or any field for one about the whole form.
    const changed = (event: Event) => {
      if (this.formError.hidden) return;
      const on = this.errorOn ? this.fields[this.errorOn] : null;
      const timing = ["repeat", "cron", "runAt"].includes(this.errorOn ?? "") && event.target === this.fields.kind;
      if (!on || event.target === on || timing) this.clearError();
    };
    this.form.addEventListener("input", changed);
    this.form.addEventListener("change", changed);
    this.note = h("p", { class: "muted schedules__note" });
    this.list = h("ul", { class: "schedules__list", "aria-label": "Schedules" });
    this.element = h(
      "dialog",
      { class: "schedules", "aria-labelledby": "schedules-title", "data-testid": "schedules" },
      h(
        "header",
        { class: "schedules__head" },
        h("h2", { id: "schedules-title", class: "schedules__title" }, "Schedules"),
        h(
          "div",
          { class: "schedules__head-actions" },
          h("button", { type: "button", class: "button button--primary", onclick: () => this.openForm(null) }, "+ New schedule"),
          h("button", { type: "button", class: "button", "aria-label": "Close schedules", onclick: () => this.element.close() }, "Close"),
        ),
      ),
      h("div", { class: "schedules__body" }, this.form, this.note, this.list),
    );
    this.element.addEventListener("click", (event) => {
      if (event.target === this.element) this.element.close();
    });
    this.element.addEventListener("close", () => window.clearInterval(this.timer));
  }

  async open(): Promise<void> {
    if (!this.element.open) this.element.showModal();
    await this.refresh();
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => {
      if (this.element.open && document.visibilityState === "visible") void this.refresh();
    }, REFRESH_MS);
  }

  async refresh(): Promise<void> {
    try {
      const list = await schedulesApi.list();
      this.note.textContent = list.schedules.length
        ? `Blu runs each schedule at most every ${list.min_interval_minutes} minutes. Repeats it reads: ${list.repeat_forms.join("; ")}.`
        : `No schedules yet. Blu can run a prompt for you at set times, even while it sleeps: “+ New schedule”.`;
      this.render(list.schedules);
    } catch (error) {
      if (error instanceof ApiError) this.host.toast(`Couldn't load schedules: ${error.message}`, "error");
    }
  }

  private render(schedules: Schedule[]): void {
    this.list.replaceChildren(...schedules.map((s) => this.item(s)));
  }

  private item(s: Schedule): HTMLElement {
    const name = s.name || s.prompt.slice(0, 60);
    const limits = [s.max_minutes !== null ? `${s.max_minutes} min` : "", s.max_usd !== null ? formatCost(s.max_usd) : ""].filter(Boolean);
    const runs = s.runs.map((run) => {
      const [label, kind] = OUTCOMES[run.outcome] ?? [run.outcome, "badge--muted"];
      return h(
        "li",
        { class: "schedule-run", "data-outcome": run.outcome, "data-run-id": run.id },
        h("span", { class: `badge ${kind}` }, label),
        run.late ? h("span", { class: "badge badge--warn", title: run.missed ? `${run.missed} earlier run(s) passed while Blu slept` : "" }, "Late") : null,
        run.trigger === "manual" ? h("span", { class: "badge badge--muted" }, "Run now") : null,
        h("span", { class: "schedule-run__time" }, relativeTime(run.started_at ?? run.due_at)),
        run.cost_usd ? h("span", { class: "schedule-run__cost" }, formatCost(run.cost_usd)) : null,
        run.session_id
          ? h(
              "button",
              {
                type: "button",
                class: "link-button",
                onclick: () => {
                  this.element.close();
                  this.host.openSession(run.session_id!);
                },
              },
              "Open session",
            )
          : null,
        run.error ? h("span", { class: "schedule-run__error" }, run.error) : null,
      );
    });
    const action = (label: string, aria: string, fn: () => Promise<void>, extra = "") =>
      h("button", { type: "button", class: `button button--small ${extra}`, "aria-label": aria, onclick: () => void fn() }, label);
    return h(
      "li",
      { class: "schedule", "data-schedule-id": s.id, "data-paused": String(s.paused) },
      h(
        "div",
        { class: "schedule__head" },
        h("h3", { class: "schedule__name", dir: "auto" }, name),
        s.paused ? h("span", { class: "badge badge--muted" }, "Paused") : null,
      ),
      h(
        "p",
        { class: "schedule__when" },
        `${describe(s)} (${s.timezone})`,
        " · next: ",
        h("span", { class: "schedule__next" }, s.paused ? "paused" : when(s.next_run_at, s.timezone)),
        limits.length ? ` · limits: ${limits.join(", ")}` : "",
        s.target === "session" ? " · into one session" : "",
      ),
      h("p", { class: "schedule__prompt", dir: "auto" }, s.prompt),
      h(
        "div",
        { class: "schedule__actions" },
        action("Run now", `Run ${name} now`, () => this.runNow(s)),
        action(s.paused ? "Resume" : "Pause", `${s.paused ? "Resume" : "Pause"} ${name}`, () => this.setPaused(s, !s.paused)),
        action("Edit", `Edit ${name}`, async () => this.openForm(s)),
        action("Delete", `Delete ${name}`, () => this.remove(s)),
      ),
      runs.length ? h("ul", { class: "schedule__runs", "aria-label": `Runs of ${name}` }, ...runs) : h("p", { class: "muted schedule__no-runs" }, "No runs yet."),
    );
  }

  private async loadSessions(selected: string | null): Promise<void> {
    const f = this.fields;
    let sessions: SessionRecord[] = [];
    try {
      sessions = (await api.listSessions({ archived: false, limit: 100 })).sessions;
    } catch {
      // the select stays empty; saving says why
    }
    f.session.replaceChildren(...sessions.map((s) => h("option", { value: s.id, selected: s.id === selected }, s.name || "New session")));
  }

  private showKind(): void {
    const kind = this.fields.kind.value;
    for (const el of this.form.querySelectorAll<HTMLElement>("[data-kind]")) el.hidden = el.dataset.kind !== kind;
  }

  private showTarget(): void {
    for (const el of this.form.querySelectorAll<HTMLElement>("[data-target]")) el.hidden = this.fields.target.value !== "session";
  }

  openForm(s: Schedule | null): void {
    const f = this.fields;
    this.editing = s;
    this.formTitle.textContent = s ? "Edit schedule" : "New schedule";
    f.name.value = s?.name ?? "";
    f.prompt.value = s?.prompt ?? "";
    f.kind.value = s ? (s.repeat ? "repeat" : s.cron ? "cron" : "once") : "repeat";
    f.repeat.value = s?.repeat ?? "";
    f.cron.value = s?.cron ?? "";
    f.timezone.value = s?.timezone ?? localZone();
    f.runAt.value = s?.run_at ? localInputValue(s.run_at, s.timezone) : "";
    f.target.value = s?.target ?? "new";
    f.maxMinutes.value = s?.max_minutes?.toString() ?? "";
    f.maxUsd.value = s?.max_usd?.toString() ?? "";
    this.clearError();
    this.form.hidden = false;
    this.showKind();
    this.showTarget();
    void this.loadSessions(s?.session_id ?? null);
    f.name.focus();
  }

  private closeForm(): void {
    this.form.hidden = true;
    this.editing = null;
    this.clearError();
  }

  private showError(text: string, field: ScheduleField | null): void {
    this.clearError();
    this.errorOn = field;
    this.formError.textContent = text;
    this.formError.hidden = false;
    const control = this.errorOn ? this.fields[this.errorOn] : null;
    control?.setAttribute("aria-invalid", "true");
    control?.setAttribute("aria-describedby", this.formError.id);
    // On a phone the sentence sits below the screen: bring it (and its field, just above) into view, and put
    // the cursor in the field to fix it.
    control?.focus({ preventScroll: true });
    this.formError.scrollIntoView({ block: "center" });
  }

  private clearError(): void {
    if (this.errorOn) {
      this.fields[this.errorOn].removeAttribute("aria-invalid");
      this.fields[this.errorOn].removeAttribute("aria-describedby");
    }
    this.errorOn = null;
    this.formError.hidden = true;
    this.formError.textContent = "";
  }

  private body(): ScheduleInput {
    const f = this.fields;
    const number = (el: HTMLInputElement) => (el.value.trim() === "" ? null : Number(el.value));
    const kind = f.kind.value;
    const body: ScheduleInput = {
      name: f.name.value.trim(),
      prompt: f.prompt.value,
      timezone: f.timezone.value.trim() || "UTC",
      target: f.target.value as "new" | "session",
      session_id: f.target.value === "session" ? f.session.value || null : null,
      max_minutes: number(f.maxMinutes),
      max_usd: number(f.maxUsd),
    };
    const timing: ScheduleInput =
      kind === "repeat" ? { repeat: f.repeat.value.trim() } : kind === "cron" ? { cron: f.cron.value.trim() } : { run_at: f.runAt.value };
    const was = this.editing;
    if (was) {
      // An edit that leaves the timing alone sends none of it: a one-shot whose time has passed can
      // still be renamed, and a recurring one keeps its next run.
      const before = was.repeat ? { repeat: was.repeat } : was.cron ? { cron: was.cron } : { run_at: was.run_at ? localInputValue(was.run_at, was.timezone) : "" };
      if (JSON.stringify(before) === JSON.stringify(timing) && was.timezone === body.timezone) {
        delete body.timezone;
        return body;
      }
    }
    return { ...body, ...timing };
  }

  private async save(): Promise<void> {
    const body = this.body();
    try {
      const saved = this.editing ? await schedulesApi.edit(this.editing.id, body) : await schedulesApi.create(body);
      announce(`Saved the schedule ${saved.name || ""}.`);
      this.host.toast(this.editing ? "Schedule saved." : "Schedule created.");
      this.closeForm();
      await this.refresh();
    } catch (error) {
      const label = (field: ScheduleField) => this.form.querySelector(`label[for="${this.fields[field].id}"]`)?.textContent ?? "";
      this.showError(errorText(error, label), error instanceof ApiError ? errorField(error.status, error.body) : null);
    }
  }

  private async act(fn: () => Promise<unknown>, done: string, failed: string): Promise<void> {
    try {
      await fn();
      this.host.toast(done);
    } catch (error) {
      this.host.toast(`${failed}: ${(error as Error).message}`, "error");
    }
    await this.refresh();
  }

  private runNow(s: Schedule): Promise<void> {
    return this.act(() => schedulesApi.runNow(s.id), "Started a run.", "Couldn't start a run");
  }

  private setPaused(s: Schedule, paused: boolean): Promise<void> {
    return this.act(() => schedulesApi.pause(s.id, paused), paused ? "Paused." : "Resumed.", paused ? "Couldn't pause" : "Couldn't resume");
  }

  private async remove(s: Schedule): Promise<void> {
    if (!window.confirm(`Delete the schedule “${s.name || s.prompt.slice(0, 40)}”? Sessions its runs wrote stay.`)) return;
    await this.act(() => schedulesApi.remove(s.id), "Schedule deleted.", "Couldn't delete");
  }
}
