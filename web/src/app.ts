// The logged-in screen: sessions sidebar, header with the session's actions and usage, the chat, and
// the artifacts/files panel. Routes: #/s/<session id>, #/new (empty chat; the session is created on send).
import { api, type Config, type ListedSession, type SessionRecord } from "./api";
import { PolicyDialog } from "./approvals";
import { AttachmentTray } from "./attachments";
import { ChatView } from "./chat";
import { ContextMeter } from "./context-meter";
import { announce, h } from "./dom";
import { sessionUsageText } from "./format";
import { icon } from "./icons";
import { MemoryDialog } from "./memory";
import { NotificationsPanel, registerServiceWorker, startPresence } from "./notifications";
import { setWorkspaceDir } from "./message-view";
import { followKeyboard, pullToRefresh } from "./phone";
import { SearchResults } from "./search";
import { RESTORED } from "./backups"; // and it registers the settings page's Backups section
import { isHelpKey, registerSection, SettingsPage } from "./settings";
import { deleteWithUndo } from "./session-delete";
import { noticeStack, toast } from "./notices";
import { Panel, Preview } from "./panel";
import { SchedulesDialog } from "./schedules";
import { ServersDialog } from "./servers";
import { Sidebar } from "./sidebar";

export interface AppHandle {
  resume(): void;
  destroy(): void;
}

export interface AppOptions {
  onLogout(): void;
}

const WIDE = "(min-width: 1200px)";
const NARROW = "(max-width: 899px)";

function parseRoute(): string | null {
  const match = /^#\/s\/([0-9a-f]{24})$/.exec(window.location.hash);
  return match ? match[1]! : null;
}

export function startApp(root: HTMLElement, config: Config, options: AppOptions): AppHandle {
  const cleanups: (() => void)[] = [];
  setWorkspaceDir((config as Config & { workspace_dir?: string }).workspace_dir);
  const listen = <K extends keyof WindowEventMap>(target: Window | Document, type: K | string, fn: (e: Event) => void) => {
    target.addEventListener(type, fn);
    cleanups.push(() => target.removeEventListener(type, fn));
  };

  let chat: ChatView | null = null;
  let current: SessionRecord | null = null;

  // -- toasts ---------------------------------------------------------------------------------
  const toasts = noticeStack(); // toasts and Undo bars, stacked above the status line and the message box

  // -- header ---------------------------------------------------------------------------------
  const titleText = h("h1", { id: "session-title", class: "topbar__title-text", dir: "auto" }, "New session");
  const usage = h("p", { class: "topbar__usage", "data-testid": "session-usage", "aria-label": "Tokens and cost of this session" });
  const contextMeter = new ContextMeter({ toast: (text, kind) => toast(text, kind), openSession: (sid) => (window.location.hash = `#/s/${sid}`) });
  const renameInput = h("input", { id: "rename-input", class: "topbar__rename-input", maxlength: "120", "aria-label": "Session name", autocomplete: "off" });
  const renameForm = h(
    "form",
    { class: "topbar__rename", hidden: true, onsubmit: (e: Event) => (e.preventDefault(), void saveRename()) },
    renameInput,
    // Words on a wide screen; on a phone icons, so the name being edited keeps the row's width (styles.css).
    h("button", { type: "submit", class: "button button--small button--primary topbar__rename-button", "aria-label": "Save the name" }, icon("check", 20), h("span", { class: "button__label" }, "Save")),
    h("button", { type: "button", class: "button button--small topbar__rename-button", "aria-label": "Cancel renaming", onclick: () => endRename() }, icon("close", 20), h("span", { class: "button__label" }, "Cancel")),
  );
  renameInput.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      endRename();
    }
  });
  const iconButton = (name: string, label: string, props: Record<string, unknown>) =>
    h("button", { type: "button", class: "button button--icon", ...props }, h("span", { class: "button__icon" }, icon(name)), h("span", { class: "button__label" }, label));
  const menuButton = h(
    "button",
    { type: "button", class: "icon-button topbar__menu", "aria-label": "Sessions", "aria-controls": "sidebar", "aria-expanded": "false", onclick: () => toggleSidebar() },
    icon("menu", 22),
  );
  const renameButton = iconButton("pencil", "Rename", { "aria-label": "Rename this session", onclick: () => startRename() });
  const archiveButton = iconButton("archive", "Archive", { "aria-label": "Archive this session", onclick: () => void toggleArchive() });
  const panelButton = iconButton("folder", "Files", { "aria-label": "Artifacts and files", "aria-controls": "panel", "aria-expanded": "false", onclick: () => togglePanel() });
  const deleteButton = iconButton("trash", "Delete", { "aria-label": "Delete this session", onclick: () => removeSession() });
  const sessionActions = h("div", { class: "topbar__actions" }, renameButton, archiveButton, deleteButton);
  const header = h(
    "header",
    { class: "topbar" },
    menuButton,
    h("div", { class: "topbar__title" }, titleText, renameForm, usage, contextMeter.element),
    sessionActions,
    panelButton,
  );
  const notice = config.model_notice
    ? h("p", { class: "notice", role: "note", "data-testid": "model-notice" }, h("strong", null, "Stand-in model. "), config.model_notice)
    : null;

  // -- sidebar, panel, preview -------------------------------------------------------------------
  const sidebar = new Sidebar({ currentId: () => current?.id ?? parseRoute(), newSession: () => newSession() });
  const modelLine = h("p", { class: "sidebar__model" }, config.model === "standin" ? "Model: offline stand-in" : "Model: Claude");
  const logoutButton = h("button", { type: "button", class: "button sidebar__logout", onclick: () => void logout() }, "Log out");
  const notifications = new NotificationsPanel(toast);
  const schedules = new SchedulesDialog({ toast: (text, kind) => toast(text, kind), openSession: (sid) => (window.location.hash = `#/s/${sid}`) });
  const schedulesButton = h("button", { type: "button", class: "button sidebar__schedules", onclick: () => void schedules.open() }, "Schedules");
  // Memory (the CLAUDE.md every session reads) and Tools (MCP servers): dialogs of their own modules.
  const memoryDialog = new MemoryDialog({ toast });
  const serversDialog = new ServersDialog({ toast });
  const settingsLinks = h(
    "div",
    { class: "sidebar__links" },
    h("button", { type: "button", class: "link-button", "data-testid": "open-memory", onclick: () => void memoryDialog.open() }, "Memory"),
    h("button", { type: "button", class: "link-button", "data-testid": "open-tools", onclick: () => void serversDialog.open() }, "Tools"),
  );
  const policy = new PolicyDialog((text, kind) => toast(text, kind));
  settingsLinks.append(policy.opener);
  const settings = new SettingsPage();
  const settingsButton = h("button", { type: "button", class: "button sidebar__settings", onclick: () => settings.open() }, "Settings");
  // The features with dialogs of their own also have a section on the settings page that opens them.
  const opens = (id: string, title: string, order: number, text: string, open: () => void): void =>
    registerSection({
      id,
      title,
      order,
      render: (body) => body.replaceChildren(h("p", { class: "muted" }, text), h("button", { type: "button", class: "button", onclick: () => { settings.element.close(); open(); } }, `Open ${title}`)),
    });
  opens("notifications", "Notifications", 20, "Which events reach this browser or phone, even when Blu's page is closed.", () => void notifications.open());
  opens("tool-policy", "Tool policy", 30, "Which tools Claude may use freely, which ask you first, and which it may not use.", () => void policy.open());
  opens("memory", "Memory", 40, "What Claude remembers about you in every session (Claude Code's CLAUDE.md), with every version.", () => void memoryDialog.open());
  opens("mcp", "MCP servers", 50, "Claude's tools from MCP servers: GitHub and Notion from their keys, and your own.", () => void serversDialog.open());
  opens("schedules", "Schedules", 60, "Prompts Blu runs on its own at set times, waking itself if it sleeps.", () => void schedules.open());
  sidebar.element.append(settingsLinks, h("div", { class: "sidebar__foot" }, modelLine, schedulesButton, notifications.button, settingsButton, logoutButton));
  const search = new SearchResults(sidebar.element.querySelector<HTMLInputElement>("#session-search")!, {
    open: (sid, messageId, terms) => {
      if (chat?.sessionId !== sid) {
        window.location.hash = `#/s/${sid}`;
        route(); // now, so that `chat` below is the new session's
      }
      if (narrow()) closeDrawers();
      if (messageId) void chat?.reveal(messageId, terms);
    },
  });
  sidebar.element.querySelector(".sidebar__head")?.after(search.element);
  pullToRefresh(sidebar.element.querySelector<HTMLElement>(".sidebar__list")!, () => sidebar.refresh());
  cleanups.push(followKeyboard());
  const preview = new Preview((text) => toast(text, "error"));
  const panel = new Panel(
    {
      toast,
      maxUploadBytes: config.max_upload_bytes ?? 25 * 1024 * 1024,
      directTransferBytes: config.direct_transfer_bytes ?? 9 * 1024 * 1024,
    },
    preview,
    () => togglePanel(false),
  );
  const backdrop = h("div", { class: "backdrop", hidden: true, onclick: () => closeDrawers() });
  const main = h("main", { id: "main", class: "main" }, header, notice);
  const shell = h("div", { class: "app", "data-testid": "app" }, sidebar.element, main, panel.element, backdrop);
  const srStatus = h("div", { id: "sr-status", class: "sr-only", role: "status", "aria-live": "polite" });
  // The skip link focuses the message box without touching the URL's hash (the hash is the route).
  const skip = h(
    "a",
    {
      class: "skip-link",
      href: "#composer-input",
      onclick: (e: Event) => {
        e.preventDefault();
        chat?.focusComposer();
      },
    },
    "Skip to the message box",
  );
  root.replaceChildren(skip, shell, preview.element, notifications.dialog, schedules.element, memoryDialog.element, serversDialog.element, settings.element, toasts, srStatus);

  // -- drawers ---------------------------------------------------------------------------------
  let sidebarOpen = false;
  let panelOpen = window.matchMedia(WIDE).matches;
  // Whether the panel is open beside the chat when the window is (or becomes) wide: see the resize listener below.
  let dockedOpen = panelOpen;
  const narrow = () => window.matchMedia(NARROW).matches;
  const layout = () => {
    shell.classList.toggle("app--sidebar-open", sidebarOpen);
    shell.classList.toggle("app--panel-open", panelOpen);
    menuButton.setAttribute("aria-expanded", String(sidebarOpen));
    panelButton.setAttribute("aria-expanded", String(panelOpen));
    backdrop.hidden = !((sidebarOpen && narrow()) || (panelOpen && !window.matchMedia(WIDE).matches));
    // Drawers that are off screen must not be reachable by Tab.
    sidebar.element.inert = narrow() && !sidebarOpen;
    panel.element.inert = !panelOpen;
  };
  function toggleSidebar(open = !sidebarOpen): void {
    sidebarOpen = open;
    if (open && !window.matchMedia(WIDE).matches) panelOpen = false;
    layout();
    if (open) sidebar.element.querySelector<HTMLElement>(".sidebar__new")?.focus();
    else if (narrow()) menuButton.focus();
  }
  function togglePanel(open = !panelOpen): void {
    panelOpen = open;
    if (!window.matchMedia(WIDE).matches) dockedOpen = open; // the person's last word, for when it widens
    if (open && narrow()) sidebarOpen = false;
    layout();
    if (open) {
      void panel.loadArtifacts();
      panel.element.querySelector<HTMLElement>('[role="tab"][aria-selected="true"]')?.focus();
    } else panelButton.focus();
  }
  function closeDrawers(): void {
    const wasOpen = sidebarOpen || (panelOpen && !window.matchMedia(WIDE).matches);
    sidebarOpen = false;
    if (!window.matchMedia(WIDE).matches && panelOpen) {
      panelOpen = false;
      dockedOpen = false; // closed by the person (Esc, a click beside it): it stays closed when the window widens
    }
    layout();
    if (wasOpen) menuButton.focus();
  }
  layout();
  // A panel docked beside the chat on a wide window would become a drawer over it when the window
  // narrows: close it then, and open it again if the window widens back (the wide layout's default),
  // unless the person opened or closed it meanwhile: then their last action holds.
  let wasWide = window.matchMedia(WIDE).matches;
  listen(window, "resize", () => {
    const wide = window.matchMedia(WIDE).matches;
    if (wide !== wasWide) {
      if (wasWide) {
        dockedOpen = panelOpen;
        panelOpen = false;
        if (panel.element.contains(document.activeElement)) panelButton.focus();
      } else panelOpen = dockedOpen;
      wasWide = wide;
    }
    layout();
  });

  // -- session header ----------------------------------------------------------------------------
  const renderHeader = () => {
    const s = current;
    titleText.textContent = s ? s.name || "New session" : "New session";
    document.title = s?.name ? `${s.name} · Blu` : "Blu";
    const has = !!s;
    renameButton.disabled = !has;
    archiveButton.disabled = !has;
    deleteButton.disabled = !has;
    const archived = s?.status === "archived";
    archiveButton.querySelector(".button__label")!.textContent = archived ? "Unarchive" : "Archive";
    archiveButton.querySelector(".button__icon")!.replaceChildren(icon(archived ? "unarchive" : "archive"));
    archiveButton.setAttribute("aria-label", archived ? "Unarchive this session" : "Archive this session");
    const totals = s ? sessionUsageText(s) : { text: "", title: "" };
    usage.textContent = [totals.text, archived ? "archived" : ""].filter(Boolean).join(" · ");
    usage.title = totals.title;
    contextMeter.update(s);
  };

  function startRename(): void {
    if (!current) return;
    renameInput.value = current.name || "";
    renameForm.hidden = false;
    titleText.hidden = true;
    sessionActions.hidden = true; // Save and Cancel stand in for them: the field gets their room
    renameInput.focus();
    renameInput.select();
  }
  function endRename(): void {
    renameForm.hidden = true;
    titleText.hidden = false;
    sessionActions.hidden = false;
    renameButton.focus();
  }
  async function saveRename(): Promise<void> {
    const name = renameInput.value.trim();
    if (!current || !name) return endRename();
    try {
      const updated = await api.updateSession(current.id, { name });
      sessionChanged(updated);
      announce(`Renamed to ${updated.name}.`);
    } catch (error) {
      toast(`Couldn't rename: ${(error as Error).message}`, "error");
    }
    endRename();
  }
  async function toggleArchive(): Promise<void> {
    if (!current) return;
    const archive = current.status !== "archived";
    try {
      const updated = await api.updateSession(current.id, { status: archive ? "archived" : "active" });
      sessionChanged(updated);
      toast(archive ? "Archived. Find it again with “Show archived”." : "Moved back to your sessions.");
    } catch (error) {
      toast(`Couldn't ${archive ? "archive" : "unarchive"}: ${(error as Error).message}`, "error");
    }
  }

  function removeSession(): void {
    const s = current;
    if (!s) return;
    deleteWithUndo(s.id, s.name, {
      hide: (id) => {
        sidebar.remove(id);
        if (chat?.sessionId === id) window.location.hash = "#/new";
      },
      restore: (id, reopen) => {
        sidebar.upsert(s);
        if (reopen) window.location.hash = `#/s/${id}`;
      },
      toast,
    });
  }

  /** The session was deleted elsewhere (another tab or device): out of the list, and, when it is open here,
   * a notice and a new chat instead of a view of something that is gone. */
  function sessionDeleted(id: string, why = "This session was deleted (in another tab or on another device)."): void {
    sidebar.remove(id);
    if (chat?.sessionId !== id) return;
    toast(why);
    window.location.hash = "#/new";
  }

  function sessionChanged(session: ListedSession): void {
    if (chat && session.id === chat.sessionId) {
      current = { ...current, ...session };
      renderHeader();
    }
    sidebar.upsert(session);
  }

  // -- routing ---------------------------------------------------------------------------------
  function mountChat(id: string | null): void {
    chat?.destroy();
    current = null;
    chat = new ChatView(id, {
      sessionChanged,
      sessionDeleted,
      sessionCreated: (session) => {
        window.history.replaceState(null, "", `#/s/${session.id}`);
        current = session;
        renderHeader();
        sidebar.upsert(session);
        panel.setSession(session.id);
      },
      artifactsChanged: () => void panel.loadArtifacts(),
      openMemory: () => void memoryDialog.open(),
      memoryChanged: () => void memoryDialog.refresh(),
      openSession: (sid) => {
        window.location.hash = `#/s/${sid}`;
      },
      toast,
      maxMessageChars: config.max_message_chars ?? 100_000,
      voice: config.voice ?? false,
      attachments: new AttachmentTray({
        toast,
        maxUploadBytes: config.max_upload_bytes ?? 25 * 1024 * 1024,
        directTransferBytes: config.direct_transfer_bytes ?? 9 * 1024 * 1024,
      }),
    });
    main.append(chat.element);
    renderHeader();
    sidebar.render();
    panel.setSession(id);
    void chat.open();
  }

  function route(): void {
    const id = parseRoute();
    if (chat && chat.sessionId === id && id !== null) return;
    if (window.location.hash !== "#/new" && id === null && window.location.hash) window.history.replaceState(null, "", "#/new");
    mountChat(id);
    if (narrow()) {
      sidebarOpen = false;
      layout();
    }
    if (!narrow()) chat?.focusComposer();
  }

  function newSession(): void {
    if (window.location.hash === "#/new") {
      mountChat(null);
      chat?.focusComposer();
    } else window.location.hash = "#/new";
    if (narrow()) {
      sidebarOpen = false;
      layout();
    }
    chat?.focusComposer();
  }

  async function logout(): Promise<void> {
    try {
      await api.logout();
    } catch {
      // the cookie may already be gone
    }
    options.onLogout();
  }

  // -- global keys and wake-ups ----------------------------------------------------------------------
  listen(document, "keydown", (event) => {
    const e = event as KeyboardEvent;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      if (narrow()) toggleSidebar(true);
      sidebar.focusSearch();
    } else if (isHelpKey(e) && !settings.element.open && !preview.element.open) {
      e.preventDefault();
      settings.open("shortcuts");
    } else if (e.key === "Escape" && !preview.element.open && !schedules.element.open) {
      if (sidebarOpen || (panelOpen && !window.matchMedia(WIDE).matches)) closeDrawers();
      // Esc stops the running turn, unless something else took it (a menu, an edit, voice mode, a dialog).
      else if (!e.defaultPrevented && !document.querySelector("dialog[open], [role=dialog][aria-modal=true]") && chat?.stopRunning()) e.preventDefault();
    }
  });
  listen(window, "hashchange", () => route());
  listen(document, "visibilitychange", () => {
    if (document.visibilityState === "visible") {
      chat?.kick();
      void sidebar.refresh();
    }
  });
  listen(window, "online", () => chat?.kick());
  // A restore from the settings replaced the store: the list as restored, and the open session read again.
  listen(window, RESTORED, () => {
    void sidebar.refresh();
    void chat?.restored();
  });
  listen(window, "pageshow", (e) => {
    if ((e as PageTransitionEvent).persisted) chat?.kick();
  });

  route();
  void sidebar.refresh();
  cleanups.push(
    registerServiceWorker((hash) => (window.location.hash = hash)),
    startPresence(() => current?.id ?? parseRoute()),
  );

  return {
    resume(): void {
      chat?.resume();
      void sidebar.refresh();
      void panel.loadArtifacts();
    },
    destroy(): void {
      chat?.destroy();
      chat = null;
      cleanups.forEach((fn) => fn());
      if (preview.element.open) preview.element.close();
      for (const dialog of [memoryDialog.element, serversDialog.element]) if (dialog.open) dialog.close();
      if (settings.element.open) settings.element.close();
    },
  };
}
