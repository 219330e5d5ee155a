// Settings → MCP servers: each server Claude gets (GitHub and Notion from their keys, the person's own)
// with its status as Claude Code reports it (connected, failed with the reason, tools offered, tools the
// policy blocks), and adding, editing or removing a server in the JSON shape of `.mcp.json`. The page
// never receives a key: headers and env show only whether each is set; an edit sends null to keep one.
import { ApiError, request } from "./api";
import type { components } from "./generated/api";
import { announce, h } from "./dom";
import { relativeTime } from "./format";

export type McpTool = components["schemas"]["McpTool"];
export type McpServer = components["schemas"]["McpServer"];
export type McpServers = components["schemas"]["McpServers"];

export const mcpApi = {
  list: () => request<McpServers>("GET", "/api/mcp/servers"),
  check: () => request<McpServers>("POST", "/api/mcp/status"),
  put: (name: string, server: unknown) => request<McpServer>("PUT", `/api/mcp/servers/${encodeURIComponent(name)}`, { json: server }),
  remove: (name: string) => request<void>("DELETE", `/api/mcp/servers/${encodeURIComponent(name)}`),
};

/** What a valid server name is (runtime/agent/mcp.py SERVER_NAME), said when the box holds another. */
const NAME_RULE = "A server name is 1 to 64 letters, digits, - or _ (no spaces): it becomes part of the tool names, mcp__name__tool.";

const EXAMPLE = `{
  "type": "http",
  "url": "https://example.com/mcp",
  "headers": { "Authorization": "Bearer …" }
}`;

const STATUS_TEXT: Record<string, [string, string]> = {
  connected: ["Connected", "badge--ok"],
  failed: ["Failed", "badge--error"],
  "needs-auth": ["Needs sign-in", "badge--warn"],
  pending: ["Connecting", "badge--muted"],
  disabled: ["Disabled", "badge--muted"],
};

/** A server's config as the edit form starts from it: secret values become null ("keep what is stored"). */
export function editableConfig(server: McpServer): Record<string, unknown> {
  const kept = (values?: Record<string, { set: boolean }> | null) =>
    Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, v.set ? null : ""]));
  if (server.type === "stdio") {
    const config: Record<string, unknown> = { type: "stdio", command: server.command, args: server.args ?? [] };
    if (server.env && Object.keys(server.env).length) config.env = kept(server.env);
    return config;
  }
  const config: Record<string, unknown> = { type: server.type, url: server.url };
  if (server.headers && Object.keys(server.headers).length) config.headers = kept(server.headers);
  return config;
}

export interface ServersHost {
  toast(text: string, kind?: "info" | "error"): void;
}

export class ServersDialog {
  readonly element: HTMLDialogElement;
  private list: HTMLElement;
  private checked: HTMLElement;
  private checkButton: HTMLButtonElement;
  private form: HTMLFormElement;
  private nameInput: HTMLInputElement;
  private configInput: HTMLTextAreaElement;
  private formError: HTMLElement;

  constructor(private host: ServersHost) {
    this.list = h("div", { class: "servers__list", "data-testid": "mcp-servers", "aria-live": "polite" });
    this.checked = h("p", { class: "muted servers__checked" });
    this.checkButton = h("button", { type: "button", class: "button button--small", onclick: () => void this.check() }, "Check status");
    this.nameInput = h("input", { id: "mcp-name", class: "servers__name", required: true, pattern: "[A-Za-z0-9_\\-]{1,64}", autocomplete: "off", spellcheck: "false", title: NAME_RULE });
    // The browser's own "Please match the requested format." says nothing about what would match.
    this.nameInput.addEventListener("input", () => this.nameInput.setCustomValidity(this.nameInput.validity.patternMismatch ? NAME_RULE : ""));
    this.nameInput.addEventListener("invalid", () => this.nameInput.setCustomValidity(this.nameInput.validity.patternMismatch ? NAME_RULE : ""));
    this.configInput = h("textarea", { id: "mcp-config", class: "servers__config", rows: "7", spellcheck: "false", placeholder: EXAMPLE });
    this.formError = h("p", { class: "error-text", role: "alert", hidden: true, "data-testid": "mcp-error" });
    this.form = h(
      "form",
      { class: "servers__form", hidden: true, onsubmit: (e: Event) => (e.preventDefault(), void this.submit()) },
      h("h3", { class: "memory__subtitle" }, "Server"),
      h("label", { for: "mcp-name" }, "Name (tools are called mcp__name__tool)"),
      this.nameInput,
      h("label", { for: "mcp-config" }, "Configuration: one entry of .mcp.json's mcpServers (stdio: command, args, env; http/sse: url, headers)"),
      this.configInput,
      h("p", { class: "muted" }, "A header or env value of null keeps the value already stored. Values are never shown again."),
      this.formError,
      h(
        "div",
        { class: "servers__form-actions" },
        h("button", { type: "submit", class: "button button--small button--primary" }, "Save server"),
        h("button", { type: "button", class: "button button--small", onclick: () => this.hideForm() }, "Cancel"),
      ),
    );
    this.element = h(
      "dialog",
      { class: "preview servers", "aria-labelledby": "servers-title", "data-testid": "servers-dialog" },
      h(
        "header",
        { class: "preview__head" },
        h("h2", { id: "servers-title", class: "memory__title" }, "Tools: MCP servers"),
        h(
          "div",
          { class: "preview__actions" },
          this.checkButton,
          h("button", { type: "button", class: "button button--small", onclick: () => this.showForm(null) }, "Add server"),
          h("button", { type: "button", class: "button button--small", onclick: () => this.element.close() }, "Close"),
        ),
      ),
      h(
        "div",
        { class: "preview__body" },
        h(
          "p",
          { class: "muted" },
          "Servers whose tools Claude can use. GitHub and Notion appear when their keys are set. A change applies from each session's next reply.",
        ),
        this.checked,
        this.list,
        this.form,
      ),
    );
  }

  async open(): Promise<void> {
    if (!this.element.open) this.element.showModal();
    this.hideForm();
    try {
      this.render(await mcpApi.list());
    } catch (error) {
      this.list.replaceChildren(h("p", { class: "error-text" }, `Couldn't list the servers: ${(error as Error).message}`));
    }
  }

  async check(): Promise<void> {
    this.checkButton.disabled = true;
    this.checked.textContent = "Asking Claude Code…";
    try {
      this.render(await mcpApi.check());
      announce("Server status updated.");
    } catch (error) {
      this.checked.textContent = `Couldn't check: ${(error as Error).message}`;
    } finally {
      this.checkButton.disabled = false;
    }
  }

  private render(data: McpServers): void {
    this.checked.textContent = data.checked_at ? `Status as of ${relativeTime(data.checked_at)}.` : "Status not checked yet.";
    if (!data.servers.length) {
      this.list.replaceChildren(h("p", { class: "muted" }, "No servers. Set GITHUB_TOKEN or NOTION_API_KEY, or add one."));
      return;
    }
    this.list.replaceChildren(...data.servers.map((s) => this.card(s)));
  }

  private card(server: McpServer): HTMLElement {
    const [label, badge] = server.status ? STATUS_TEXT[server.status] ?? [server.status, "badge--muted"] : ["Not checked", "badge--muted"];
    const where = server.type === "stdio" ? [server.command, ...(server.args ?? [])].join(" ") : server.url ?? "";
    const secrets = Object.entries((server.type === "stdio" ? server.env : server.headers) ?? {}).map(
      ([k, v]) => `${k}: ${v.set ? "set" : "empty"}`,
    );
    const tools = server.tools ?? [];
    return h(
      "article",
      { class: "servers__card", "data-server": server.name },
      h(
        "header",
        { class: "servers__card-head" },
        h("h3", { class: "servers__card-name" }, server.name),
        h("span", { class: `badge ${badge}`, "data-testid": "mcp-status" }, label),
        h("span", { class: "badge badge--muted" }, server.source === "key" ? "From key" : "Added"),
        h("span", { class: "muted" }, server.type),
      ),
      h("p", { class: "servers__where" }, where),
      secrets.length ? h("p", { class: "muted" }, (server.type === "stdio" ? "env: " : "headers: ") + secrets.join(", ")) : null,
      server.error ? h("p", { class: "error-text" }, `Reason: ${server.error}`) : null,
      tools.length
        ? h(
            "ul",
            { class: "servers__tools", "aria-label": `Tools of ${server.name}` },
            ...tools.map((t) =>
              h("li", { class: t.blocked ? "servers__tool servers__tool--blocked" : "servers__tool" }, t.full_name, t.blocked ? h("span", { class: "badge badge--warn" }, "Blocked by policy") : null),
            ),
          )
        : null,
      server.source === "added"
        ? h(
            "div",
            { class: "servers__card-actions" },
            h("button", { type: "button", class: "link-button", onclick: () => this.showForm(server) }, "Edit"),
            h("button", { type: "button", class: "link-button", onclick: () => void this.remove(server.name) }, "Remove"),
          )
        : null,
    );
  }

  private showForm(server: McpServer | null): void {
    this.nameInput.value = server?.name ?? "";
    this.nameInput.readOnly = server !== null;
    this.configInput.value = server ? JSON.stringify(editableConfig(server), null, 2) : "";
    this.formError.hidden = true;
    this.form.hidden = false;
    (server ? this.configInput : this.nameInput).focus();
  }

  private hideForm(): void {
    this.form.hidden = true;
  }

  private async submit(): Promise<void> {
    const name = this.nameInput.value.trim();
    let config: unknown;
    try {
      config = JSON.parse(this.configInput.value || "null");
    } catch (error) {
      this.showError(`That is not JSON: ${(error as Error).message}`);
      return;
    }
    try {
      await mcpApi.put(name, config);
      this.host.toast(`Saved ${name}. Checking its status…`);
      this.hideForm();
      await this.check();
    } catch (error) {
      this.showError(error instanceof ApiError ? error.detail : (error as Error).message);
    }
  }

  private showError(text: string): void {
    this.formError.textContent = text;
    this.formError.hidden = false;
  }

  private async remove(name: string): Promise<void> {
    if (!window.confirm(`Remove the server ${name}? Claude loses its tools from the next reply on.`)) return;
    try {
      await mcpApi.remove(name);
      this.host.toast(`Removed ${name}.`);
      this.render(await mcpApi.list());
    } catch (error) {
      this.host.toast(`Couldn't remove ${name}: ${(error as Error).message}`, "error");
    }
  }
}
