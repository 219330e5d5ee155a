// The settings page: a small registry of sections, so each feature adds its own in one place.
//
//   registerSection({ id: "notifications", title: "Notifications", order: 20, render: (body) => { … } });
//
// Sections named in PLANNED that nobody registered yet show "Not available yet", so the page says what
// is coming rather than hiding it. Built in here: Appearance (theme) and Keyboard shortcuts.
import { h } from "./dom";
import { setTheme, storedTheme, type Theme } from "./theme";

export interface SettingsSection {
  /** Stable id: `settings-<id>` is the section's element id. */
  id: string;
  title: string;
  /** Lower comes first. */
  order: number;
  /** Fill the section's body (called each time the page opens). */
  render(body: HTMLElement): void | Promise<void>;
}

/** Sections other features will add; shown as "Not available yet" until they register. */
export const PLANNED: readonly Pick<SettingsSection, "id" | "title" | "order">[] = [
  { id: "notifications", title: "Notifications", order: 20 },
  { id: "tool-policy", title: "Tool policy", order: 30 },
  { id: "memory", title: "Memory", order: 40 },
  { id: "mcp", title: "MCP servers", order: 50 },
  { id: "schedules", title: "Schedules", order: 60 },
  { id: "backups", title: "Backups", order: 70 },
];

const registry = new Map<string, SettingsSection>();

export function registerSection(section: SettingsSection): void {
  registry.set(section.id, section);
}

/** Every section to show, in order: registered ones, and planned ones not registered (null render). */
export function sections(): (Pick<SettingsSection, "id" | "title" | "order"> & { render: SettingsSection["render"] | null })[] {
  const all = new Map<string, Pick<SettingsSection, "id" | "title" | "order"> & { render: SettingsSection["render"] | null }>();
  for (const planned of PLANNED) all.set(planned.id, { ...planned, render: null });
  for (const section of registry.values()) all.set(section.id, section);
  return [...all.values()].sort((a, b) => a.order - b.order || a.title.localeCompare(b.title));
}

/** The keyboard shortcuts, for the help (`?`) and the settings page. */
export const SHORTCUTS: readonly [string, string][] = [
  ["Enter", "Send the message"],
  ["Shift+Enter", "New line in the message"],
  ["↑", "Edit your last message (in the empty message box)"],
  ["Esc", "Stop the running turn; close a menu, dialog or drawer"],
  ["Ctrl+K / ⌘K", "Search sessions, messages and files"],
  ["?", "Show these shortcuts"],
  ["← / →", "Switch between the Artifacts and Files tabs"],
];

function shortcutList(): HTMLElement {
  return h(
    "dl",
    { class: "shortcuts" },
    ...SHORTCUTS.flatMap(([keys, what]) => [h("dt", null, ...keys.split(" / ").flatMap((k, i) => [i ? " / " : "", h("kbd", null, k)])), h("dd", null, what)]),
  );
}

registerSection({
  id: "appearance",
  title: "Appearance",
  order: 0,
  render(body) {
    const current = storedTheme();
    const choice = (value: Theme, label: string) =>
      h(
        "label",
        { class: "settings__choice" },
        h("input", { type: "radio", name: "theme", value, checked: current === value, onchange: () => setTheme(value) }),
        label,
      );
    body.append(
      h(
        "fieldset",
        { class: "settings__fieldset" },
        h("legend", null, "Theme"),
        choice("system", "System (follows your device)"),
        choice("light", "Light"),
        choice("dark", "Dark"),
      ),
    );
  },
});

registerSection({
  id: "shortcuts",
  title: "Keyboard shortcuts",
  order: 10,
  render(body) {
    body.append(shortcutList());
  },
});

/** The settings page, as a full-height dialog (full screen on a phone). */
export class SettingsPage {
  readonly element: HTMLDialogElement;
  private body: HTMLElement;

  constructor() {
    this.body = h("div", { class: "settings__body" });
    this.element = h(
      "dialog",
      { class: "settings", "aria-labelledby": "settings-title", "data-testid": "settings" },
      h(
        "header",
        { class: "settings__head" },
        h("h2", { id: "settings-title" }, "Settings"),
        h("button", { type: "button", class: "button", "aria-label": "Close the settings", onclick: () => this.element.close() }, "Close"),
      ),
      this.body,
    );
  }

  open(focus?: string): void {
    this.body.replaceChildren();
    for (const section of sections()) {
      const content = h("div", { class: "settings__content" });
      const element = h("section", { id: `settings-${section.id}`, class: "settings__section", "aria-labelledby": `settings-${section.id}-title` }, h("h3", { id: `settings-${section.id}-title` }, section.title), content);
      if (section.render) void section.render(content);
      else {
        element.dataset.available = "false";
        content.append(h("p", { class: "settings__na" }, "Not available yet."));
      }
      this.body.append(element);
    }
    if (!this.element.open) this.element.showModal();
    if (focus) document.getElementById(`settings-${focus}`)?.scrollIntoView({ block: "start" });
  }
}

/** `?` outside a text field opens the shortcuts (in the settings page). */
export function isHelpKey(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  const typing = !!target?.closest?.("input, textarea, select, [contenteditable=true]");
  return event.key === "?" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey;
}
