// Approvals and Claude's questions for the open session: a card per pending request with the tool's input
// readable (the command, the file, the text an edit replaces), Allow / Always allow / Deny, and for
// AskUserQuestion the choices plus a free answer. Every tab shows the same cards: they come from
// GET /api/sessions/{id}/approvals on open (so they survive a reload and a restart) and from the
// `approval.requested` / `approval.resolved` events; a new card's buttons wait half a second before they take
// an answer. Diff rendering for Edit is left to message-view.ts.
import "./approvals.css";
import { ApiError, request } from "./api";
import { announce, h } from "./dom";

export interface Approval {
  id: string;
  session_id: string;
  turn_id: string;
  tool_use_id: string;
  tool_name: string;
  input: Record<string, unknown>;
  kind: "tool" | "question";
  status: "pending" | "allowed" | "denied" | "answered";
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  message: string;
  answers: Record<string, string>;
  always: boolean;
  delivered: string | null;
  /** In the list only: whether a turn is paused on it now (false: answering resumes the work in a new turn). */
  live?: boolean;
}

export type Decision = "allow" | "deny" | "always" | "answer";

interface Question {
  question: string;
  header?: string;
  options?: { label: string; description?: string }[];
  multiSelect?: boolean;
}

const q = encodeURIComponent;

/** How long a new card's answer buttons ignore activation, counted from when the card is in sight (as browsers
 * do for their permission prompts): a click meant for a card just answered, here or on another device, that
 * lands on the one drawn in its place must not answer it unseen. */
export const ARMING_MS = 500;

export const approvalsApi = {
  /** Every approval of the session, oldest first (the decided ones tell which turns a later turn continued). */
  list: (sessionId: string) => request<{ approvals: Approval[]; pending: number }>("GET", `/api/sessions/${q(sessionId)}/approvals`),
  answer: (sessionId: string, id: string, body: { decision: Decision; answers?: Record<string, string>; message?: string }) =>
    request<{ approval: Approval; replayed: boolean }>("POST", `/api/sessions/${q(sessionId)}/approvals/${q(id)}`, {
      json: body,
    }),
};

export interface ApprovalHost {
  /** How many requests of this session wait for the person now (the session list's badge). */
  pendingChanged(count: number): void;
  toast(text: string, kind?: "info" | "error"): void;
}

/** The pending requests of one session, above the composer. */
export class ApprovalPanel {
  readonly element: HTMLElement;
  private cards = new Map<string, HTMLElement>();
  private sessionId: string | null = null;

  constructor(private host: ApprovalHost) {
    this.element = h("div", { class: "approvals", "aria-label": "Requests waiting for you", "data-testid": "approvals", hidden: true });
  }

  /** Show the session's pending requests (on open, after a reload or a server restart). Returns all of its
   * approvals, decided ones too ([] when they could not be read). */
  async load(sessionId: string | null): Promise<Approval[]> {
    this.sessionId = sessionId;
    if (!sessionId) {
      this.replace([]);
      return [];
    }
    try {
      const { approvals } = await approvalsApi.list(sessionId);
      if (sessionId !== this.sessionId) return [];
      this.replace(approvals);
      return approvals;
    } catch {
      return []; // the stream's reconnect or the next open tries again
    }
  }

  /** Every event of the session's stream; only the approval events change anything here. */
  onEvent(event: { type: string; data: unknown }): void {
    if (event.type === "approval.requested") this.add(event.data as Approval);
    else if (event.type === "approval.resolved") this.resolved(event.data as Approval);
  }

  private replace(approvals: Approval[]): void {
    for (const id of [...this.cards.keys()]) this.drop(id);
    for (const approval of approvals) this.add(approval);
    this.changed();
  }

  private add(approval: Approval): void {
    // Only this chat's stream and list feed the panel; a chat that began as "new" learns its session here.
    if (approval.status !== "pending" || this.cards.has(approval.id)) return;
    this.sessionId ??= approval.session_id;
    const card = renderCard(approval, (body) => {
      if (!card.classList.contains("approval--arming")) void this.answer(approval, body);
    });
    this.cards.set(approval.id, card);
    this.element.append(card);
    arm(card);
    announce(approval.kind === "question" ? "Claude asks you a question." : `Claude asks to use ${approval.tool_name}.`);
    this.changed();
  }

  private resolved(approval: Approval): void {
    if (!this.cards.has(approval.id)) return;
    this.drop(approval.id);
    announce(`${approval.tool_name}: ${approval.status} by ${approval.decided_by ?? "someone"}.`);
    this.changed();
  }

  private drop(id: string): void {
    this.cards.get(id)?.remove();
    this.cards.delete(id);
  }

  private changed(): void {
    this.element.hidden = this.cards.size === 0;
    this.host.pendingChanged(this.cards.size);
  }

  private async answer(approval: Approval, body: { decision: Decision; answers?: Record<string, string>; message?: string }): Promise<void> {
    const card = this.cards.get(approval.id);
    card?.querySelectorAll("button, input, textarea").forEach((el) => ((el as HTMLButtonElement).disabled = true));
    try {
      const { approval: decided } = await approvalsApi.answer(approval.session_id, approval.id, body);
      this.resolved(decided);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        const stands = (error.body as { detail?: { message?: string; approval?: Approval } } | null)?.detail;
        this.host.toast(stands?.message ?? "Someone answered this already.");
        if (stands?.approval) this.resolved(stands.approval);
        else this.drop(approval.id);
        this.changed();
        return;
      }
      card?.querySelectorAll("button, input, textarea").forEach((el) => ((el as HTMLButtonElement).disabled = false));
      this.host.toast(error instanceof ApiError && error.status === 404 ? "This request is gone." : "Couldn't send the answer. Try again.", "error");
    }
  }
}

/** A new card's answer buttons stay off (drawn disabled; a click, a tap, Enter or Space does nothing) for
 * ARMING_MS after the card is in sight: a tab in the background starts counting when it is shown. */
function arm(card: HTMLElement): void {
  const buttons = [...card.querySelectorAll<HTMLButtonElement>(".approval__actions button")];
  card.classList.add("approval--arming");
  for (const button of buttons) button.disabled = true;
  const start = () => {
    if (document.visibilityState === "hidden") return;
    document.removeEventListener("visibilitychange", start);
    window.setTimeout(() => {
      card.classList.remove("approval--arming");
      for (const button of buttons) button.disabled = false;
    }, ARMING_MS);
  };
  document.addEventListener("visibilitychange", start);
  start();
}

type Answer = (body: { decision: Decision; answers?: Record<string, string>; message?: string }) => void;

function renderCard(approval: Approval, answer: Answer): HTMLElement {
  const question = approval.kind === "question";
  const title = question ? "Claude asks" : `Claude wants to use ${approval.tool_name}`;
  const note =
    approval.live === false
      ? h("p", { class: "approval__note" }, "Blu stopped while this waited. Your answer continues the work in a new turn.")
      : null;
  return h(
    "article",
    { class: `approval approval--${approval.kind}`, "data-testid": "approval-card", "data-approval-id": approval.id, "aria-label": title },
    h("header", { class: "approval__title" }, h("span", { class: "badge badge--warn" }, question ? "Question" : "Approval"), " ", title),
    note,
    question ? renderQuestions(approval, answer) : [renderInput(approval.tool_name, approval.input), renderButtons(answer)],
  );
}

function renderButtons(answer: Answer): HTMLElement {
  return h(
    "div",
    { class: "approval__actions" },
    h("button", { type: "button", class: "button button--primary", "data-testid": "approval-allow", onclick: () => answer({ decision: "allow" }) }, "Allow"),
    h("button", { type: "button", class: "button", "data-testid": "approval-always", onclick: () => answer({ decision: "always" }) }, "Always allow"),
    h("button", { type: "button", class: "button button--danger", "data-testid": "approval-deny", onclick: () => answer({ decision: "deny" }) }, "Deny"),
  );
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function field(label: string, value: unknown, code = true): HTMLElement {
  return h(
    "div",
    { class: "approval__field" },
    h("span", { class: "approval__label" }, label),
    code ? h("pre", { class: "approval__code" }, text(value)) : h("span", { class: "approval__value", dir: "auto" }, text(value)),
  );
}

/** The tool's input as a person reads it: the command for Bash, the path and text for file tools. */
export function renderInput(tool: string, input: Record<string, unknown>): HTMLElement {
  const parts: HTMLElement[] = [];
  if (tool === "Bash" && typeof input.command === "string") {
    parts.push(field("Command", input.command));
    if (input.description) parts.push(field("Why", input.description, false));
  } else if ((tool === "Write" || tool === "Edit" || tool === "MultiEdit" || tool === "Read" || tool === "NotebookEdit") && (input.file_path || input.notebook_path)) {
    parts.push(field("File", input.file_path ?? input.notebook_path, false));
    if (tool === "Write") parts.push(field("Content", input.content));
    if (tool === "Edit") parts.push(field("Replace", input.old_string), field("With", input.new_string));
    if (tool === "MultiEdit" && Array.isArray(input.edits)) {
      for (const edit of input.edits as { old_string?: unknown; new_string?: unknown }[]) {
        parts.push(field("Replace", edit.old_string), field("With", edit.new_string));
      }
    }
  } else if (typeof input.url === "string") {
    parts.push(field("Address", input.url, false));
    if (input.prompt) parts.push(field("Looking for", input.prompt, false));
  } else if (typeof input.text === "string" && Object.keys(input).length === 1) {
    parts.push(field("Input (shortened to 16 kB)", input.text)); // too long to keep whole: stored as text
  } else {
    parts.push(field("Input", input));
  }
  return h("div", { class: "approval__input", "data-testid": "approval-input" }, parts);
}

function renderQuestions(approval: Approval, answer: Answer): HTMLElement {
  const questions = (Array.isArray(approval.input.questions) ? approval.input.questions : []) as Question[];
  const readers: (() => [string, string])[] = [];
  const form = h("form", { class: "approval__questions" });
  questions.forEach((item, index) => {
    const name = `q-${approval.id}-${index}`;
    const type = item.multiSelect ? "checkbox" : "radio";
    const options = (item.options ?? []).map((option) =>
      h(
        "label",
        { class: "approval__option" },
        h("input", { type, name, value: option.label, "data-testid": "approval-option" }),
        h("span", null, h("strong", null, option.label), option.description ? h("span", { class: "approval__hint" }, ` — ${option.description}`) : null),
      ),
    );
    const free = h("input", {
      type: "text",
      class: "approval__free",
      placeholder: "Or write your own answer",
      "aria-label": `Your own answer to: ${item.question}`,
      "data-testid": "approval-free",
      maxlength: 4000,
    });
    form.append(h("fieldset", { class: "approval__question" }, h("legend", { dir: "auto" }, item.question), options, free));
    readers.push(() => {
      const chosen = [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((el) => el.value);
      const own = free.value.trim();
      return [item.question, own || chosen.join(", ")];
    });
  });
  const submit = h("button", { type: "submit", class: "button button--primary", "data-testid": "approval-submit" }, "Answer");
  const skip = h("button", { type: "button", class: "button", "data-testid": "approval-deny", onclick: () => answer({ decision: "deny", message: "The person chose not to answer." }) }, "Skip");
  form.append(h("div", { class: "approval__actions" }, submit, skip));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const answers = Object.fromEntries(readers.map((read) => read()).filter(([, value]) => value));
    if (!Object.keys(answers).length) return announce("Choose an option or write an answer.");
    answer({ decision: "answer", answers });
  });
  return form;
}

// -- the tool policy ------------------------------------------------------------------------------

type Mode = "allow" | "ask" | "deny";

export interface Policy {
  default: Mode;
  settings: Record<string, Mode>;
  run_time: Record<string, Mode>;
}

export const policyApi = {
  get: () => request<Policy>("GET", "/api/tools/policy"),
  set: (tool: string, mode: Mode | null) => request<Policy>("PUT", "/api/tools/policy", { json: { tool, mode } }),
};

/** The name an entry was stored under: the server stores a built-in tool as Claude Code spells it (`bash` →
 * `Bash`), so the answer's run-time entry with the typed name in any case; the typed name when there is none. */
export function storedName(policy: Pick<Policy, "run_time">, typed: string): string {
  if (typed in policy.run_time) return typed;
  return Object.keys(policy.run_time).find((name) => name.toLowerCase() === typed.toLowerCase()) ?? typed;
}

const MODES: Mode[] = ["allow", "ask", "deny"];
const MODE_LABELS: Record<Mode, string> = { allow: "Allow", ask: "Ask me", deny: "Deny" };

/** The tool policy as a dialog: each tool's mode (run-time entries over the settings), a tool added by
 * name (MCP tools as mcp__server__tool, or mcp__server for all of a server's tools), an entry reset. */
export class PolicyDialog {
  readonly element: HTMLDialogElement;
  /** The button that opens it (the sidebar's foot). */
  readonly opener: HTMLElement;
  private body: HTMLElement;
  /** Why the last change was refused (the server's sentence, e.g. for a name no call can have), in the dialog:
   * a toast would be drawn under the modal dialog. */
  private error: HTMLElement;

  constructor(private toast: (text: string, kind?: "info" | "error") => void) {
    this.body = h("div", { class: "policy__body" });
    this.error = h("p", { id: "policy-error", class: "error-text", role: "alert", "data-testid": "policy-error", hidden: true });
    this.element = h(
      "dialog",
      { class: "preview policy", "aria-labelledby": "policy-title", "data-testid": "policy" },
      h(
        "header",
        { class: "preview__head" },
        h("h2", { id: "policy-title", class: "memory__title" }, "Tool policy"),
        h("button", { type: "button", class: "button", onclick: () => this.element.close() }, "Close"),
      ),
      this.body,
    );
    this.opener = h(
      "div",
      { class: "policy-open" },
      h("button", { type: "button", class: "link-button", "data-testid": "policy-open", onclick: () => void this.open() }, "Tool policy"),
    );
  }

  async open(): Promise<void> {
    if (!this.element.isConnected) document.body.append(this.element);
    try {
      this.render(await policyApi.get());
      this.error.hidden = true;
      this.element.showModal();
    } catch (error) {
      this.toast(`Couldn't load the tool policy: ${(error as Error).message}`, "error");
    }
  }

  private async set(tool: string, mode: Mode | null): Promise<void> {
    try {
      const policy = await policyApi.set(tool, mode);
      this.error.hidden = true;
      this.render(policy);
      const name = mode ? storedName(policy, tool) : tool;
      announce(mode ? `${name}: ${MODE_LABELS[mode]}.` : `${name}: back to the settings.`);
    } catch (error) {
      // A refused name (422) comes with the server's reason, a sentence: shown as it is, the typed name kept.
      const shown = tool.length > 40 ? `${tool.slice(0, 39)}…` : tool;
      this.error.textContent = `Couldn't change ${shown}: ${(error as Error).message}`;
      this.error.hidden = false;
    }
  }

  private render(policy: Policy): void {
    const tools = [...new Set([...Object.keys(policy.settings), ...Object.keys(policy.run_time)])].sort();
    const select = (tool: string, mode: Mode, label: string) =>
      h(
        "select",
        { "aria-label": label, "data-tool": tool, onchange: (event: Event) => void this.set(tool, (event.target as HTMLSelectElement).value as Mode) },
        MODES.map((m) => h("option", { value: m, selected: m === mode }, MODE_LABELS[m])),
      );
    const rows = tools.map((tool) => {
      const own = policy.run_time[tool];
      const mode = own ?? policy.settings[tool];
      return h(
        "li",
        { class: "policy__row" },
        h("code", { class: "policy__tool" }, tool),
        select(tool, mode, `Mode of ${tool}`),
        own
          ? h("button", { type: "button", class: "link-button", onclick: () => void this.set(tool, null) }, policy.settings[tool] ? "Back to settings" : "Remove")
          : h("span", { class: "policy__from" }, "settings"),
      );
    });
    const name = h("input", {
      type: "text",
      class: "approval__free",
      placeholder: "Tool, e.g. Bash or mcp__github",
      "aria-label": "Tool name",
      "aria-describedby": "policy-error",
      maxlength: 200,
    });
    const mode = h("select", { "aria-label": "Mode of the new tool" }, MODES.map((m) => h("option", { value: m, selected: m === "ask" }, MODE_LABELS[m])));
    const add = h(
      "form",
      {
        class: "policy__add",
        onsubmit: (event: Event) => {
          event.preventDefault();
          if (name.value.trim()) void this.set(name.value.trim(), mode.value as Mode);
          else this.error.hidden = true; // nothing to add: an earlier refusal no longer applies
        },
      },
      name,
      mode,
      h("button", { type: "submit", class: "button" }, "Add"),
    );
    this.body.replaceChildren(
      h("p", null, `Tools not listed: ${MODE_LABELS[policy.default]}. “Ask me” pauses Claude until you answer; your changes here apply at once and override Blu's settings.`),
      h("ul", { class: "policy__list" }, rows),
      add,
      this.error,
    );
  }
}
