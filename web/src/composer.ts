// The message box under the chat: the text area (Enter sends, Shift+Enter adds a line, grows with its
// text), Send, Stop (while a turn runs) and the microphone button for voice mode.
import { h } from "./dom";
import { icon } from "./icons";

export const VOICE_OFF = "Voice is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET in Blu's secret.";

export interface ComposerOptions {
  /** The text to send (not blank, within `maxChars`); the box is already cleared. */
  send(text: string): void;
  stop(): void;
  voice(): void;
  /** Whether LiveKit is configured: the microphone button works only then. */
  voiceEnabled: boolean;
  maxChars: number;
  /** Said when a message is too long. */
  refuse(text: string): void;
  /** ↑ in an empty box: edit the person's last message (false: there is none). */
  editLast?(): boolean;
  /** The edit was given up (Cancel or Esc in the box). */
  cancelEdit?(): void;
  /** Where the unsent text is kept (web/src/drafts.ts): read when the box is made, written as it changes. */
  draft?: { load(): string; save(text: string): void };
}

export class Composer {
  readonly element: HTMLFormElement;
  readonly micButton: HTMLButtonElement;
  private textarea: HTMLTextAreaElement;
  private sendButton: HTMLButtonElement;
  private stopButton: HTMLButtonElement;
  private editBar: HTMLElement;

  constructor(private options: ComposerOptions) {
    this.textarea = h("textarea", {
      id: "composer-input",
      class: "composer__input",
      rows: "1",
      placeholder: "Message Blu…",
      "aria-label": "Message",
      "aria-describedby": "composer-hint",
      dir: "auto",
      enterkeyhint: "send",
      autocomplete: "off",
    });
    // Icon and word; a phone shows only the icon, so the message box keeps its width beside them.
    this.sendButton = h(
      "button",
      { type: "submit", class: "button button--primary composer__send", "aria-label": "Send message" },
      icon("send", 20),
      h("span", { class: "button__label" }, "Send"),
    );
    this.stopButton = h(
      "button",
      { type: "button", class: "button button--danger composer__stop", hidden: true, "aria-label": "Stop the running turn", onclick: () => options.stop() },
      icon("stop", 20),
      h("span", { class: "button__label" }, "Stop"),
    );
    const voice = options.voiceEnabled;
    this.micButton = h(
      "button",
      {
        type: "button",
        class: "button button--icon composer__mic",
        "aria-label": voice ? "Talk to Blu (voice mode)" : "Voice mode (not configured)",
        title: voice ? "Talk to Blu" : VOICE_OFF,
        "aria-disabled": voice ? null : "true",
        "data-testid": "voice-button",
        onclick: () => options.voice(),
      },
      icon("mic", 20),
    );
    const hint = h("p", { id: "composer-hint", class: "composer__hint" }, "Enter sends · Shift+Enter adds a line · ↑ edits your last message");
    this.editBar = h(
      "div",
      { class: "composer__editing", hidden: true, "data-testid": "editing" },
      h("span", null, "Editing your message: sending starts a new branch; the original stays in this session."),
      h("button", { type: "button", class: "link-button", onclick: () => this.stopEditing(true) }, "Cancel edit"),
    );
    this.element = h(
      "form",
      { class: "composer", "aria-label": "Send a message", onsubmit: (e: Event) => (e.preventDefault(), this.submit()) },
      this.editBar,
      this.textarea,
      h("div", { class: "composer__buttons" }, this.micButton, this.stopButton, this.sendButton),
      hint,
    );
    this.textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      } else if (event.key === "ArrowUp" && !this.textarea.value && !event.shiftKey && options.editLast?.()) {
        event.preventDefault();
      } else if (event.key === "Escape" && !this.editBar.hidden) {
        event.preventDefault();
        event.stopPropagation();
        this.stopEditing(true);
      }
    });
    this.textarea.addEventListener("input", () => {
      this.autosize();
      // A message being edited is not a draft: the draft comes back when the edit is given up.
      if (this.editBar.hidden) options.draft?.save(this.textarea.value);
    });
    const draft = options.draft?.load();
    if (draft) this.setText(draft);
  }

  /** The text in the box (what is typed, not yet sent). */
  get text(): string {
    return this.textarea.value;
  }

  private setText(text: string): void {
    this.textarea.value = text;
    // Sized once it is on the page (a detached text area has no scrollHeight).
    requestAnimationFrame(() => this.autosize());
  }

  /** A message that was not sent goes back into the box (before what was typed since) and is its draft again. */
  giveBack(text: string): void {
    const parts = [text, this.textarea.value].filter((t) => t.trim());
    this.setText([...new Set(parts)].join("\n\n"));
    if (this.editBar.hidden) this.options.draft?.save(this.textarea.value);
    this.textarea.focus();
  }

  /** Put a message in the box to edit it; the bar above says what sending will do. */
  startEditing(text: string): void {
    this.editBar.hidden = false;
    this.textarea.value = text;
    this.autosize();
    this.textarea.focus();
    this.textarea.setSelectionRange(text.length, text.length);
  }

  get editing(): boolean {
    return !this.editBar.hidden;
  }

  stopEditing(cancelled = false): void {
    if (this.editBar.hidden) return;
    this.editBar.hidden = true;
    if (cancelled) {
      this.textarea.value = this.options.draft?.load() ?? "";
      this.autosize();
      this.options.cancelEdit?.();
      this.textarea.focus();
    }
  }

  focus(): void {
    this.textarea.focus();
  }

  /** The session is gone: nothing can be sent. */
  disable(): void {
    this.textarea.disabled = true;
    this.sendButton.disabled = true;
  }

  /** Stop is offered while a turn runs or waits for a process. */
  showStop(on: boolean): void {
    this.stopButton.hidden = !on;
  }

  /** Stop is disabled while its request is under way. */
  stopping(on: boolean): void {
    this.stopButton.disabled = on;
  }

  private autosize(): void {
    const t = this.textarea;
    t.style.height = "auto";
    t.style.height = `${Math.min(t.scrollHeight, 220)}px`;
  }

  private submit(): void {
    const text = this.textarea.value;
    if (!text.trim()) return;
    // Characters as the server counts them (code points; an emoji is one, not two UTF-16 units).
    if ([...text].length > this.options.maxChars) {
      this.options.refuse(`The message is longer than ${this.options.maxChars} characters.`);
      return;
    }
    const editing = !this.editBar.hidden;
    this.textarea.value = "";
    this.autosize();
    if (!editing) this.options.draft?.save("");
    this.options.send(text);
  }
}
