// The password form, shared by the login screen (POST /login on the launcher in AWS, /api/login on the
// runtime locally) and the waking overlay (POST /login on the launcher). A 400 explains itself (`detail`:
// e.g. plain HTTP from another machine, where the browser would drop the Secure cookie). Both answer 204 + cookie, 401 {detail, retry_after} for a
// wrong password and 429 {detail, retry_after} + Retry-After while throttled.
// The password only ever travels in a POST body: never in a URL, never logged.

export interface LoginFormOptions {
  url: string;
  onSuccess: () => void;
  /** The form's heading; null for none (the overlay has its own). */
  heading?: string | null;
  intro?: string;
  idPrefix?: string;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

export function createLoginForm(options: LoginFormOptions): HTMLFormElement {
  const id = options.idPrefix ?? "login";
  // method=post: even if a script failed, the browser would never put the password in a URL.
  const form = el("form", { class: "login-form", method: "post", action: "/", novalidate: "" });
  if (options.heading === null) {
    form.setAttribute("aria-label", "Log in");
  } else {
    form.setAttribute("aria-labelledby", `${id}-heading`);
    form.append(el("h1", { id: `${id}-heading`, class: "login-form__heading" }, options.heading ?? "Log in to Blu"));
  }
  if (options.intro) form.append(el("p", { class: "login-form__intro" }, options.intro));
  if (!window.isSecureContext) {
    // Plain HTTP off localhost: the browser would drop the Secure login cookie. Say so before a password is typed.
    form.append(
      el(
        "p",
        { class: "login-form__warning", role: "note", "data-testid": "insecure-origin" },
        "This page is open over plain HTTP, where your browser won't keep Blu's login. Open Blu over HTTPS, or at http://localhost through an SSH tunnel.",
      ),
    );
  }
  const label = el("label", { for: `${id}-password` }, "Password");
  const input = el("input", {
    id: `${id}-password`,
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: "",
    "aria-describedby": `${id}-message`,
  }) as HTMLInputElement;
  const button = el("button", { type: "submit", class: "button button--primary" }, "Log in") as HTMLButtonElement;
  const message = el("p", { id: `${id}-message`, class: "login-form__message", role: "alert", "aria-live": "assertive" });
  // A fixed user name helps password managers pair the saved password with this form.
  const user = el("input", { type: "text", name: "username", autocomplete: "username", value: "blu", hidden: "", "aria-hidden": "true", tabindex: "-1" });
  form.append(user, label, input, button, message);

  let countdown: number | undefined;
  let busy = false;

  const waitThenEnable = (seconds: number, render: (left: number) => string) => {
    window.clearInterval(countdown);
    let left = Math.max(1, Math.ceil(seconds));
    button.disabled = true;
    message.textContent = render(left);
    countdown = window.setInterval(() => {
      left -= 1;
      if (left <= 0) {
        window.clearInterval(countdown);
        button.disabled = false;
        message.textContent = message.dataset.kind === "throttled" ? "You can try again now." : "";
        input.focus();
        return;
      }
      message.textContent = render(left);
    }, 1000);
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy || button.disabled) return;
    const password = input.value;
    if (!password) {
      message.dataset.kind = "empty";
      message.textContent = "Enter the password.";
      input.focus();
      return;
    }
    busy = true;
    button.disabled = true;
    button.textContent = "Logging in…";
    message.dataset.kind = "";
    message.textContent = "";
    let response: Response | null = null;
    try {
      response = await fetch(options.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ password }),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      response = null;
    }
    busy = false;
    button.textContent = "Log in";
    button.disabled = false;
    if (response && (response.status === 204 || response.ok)) {
      input.value = "";
      window.clearInterval(countdown);
      options.onSuccess();
      return;
    }
    if (!response) {
      message.dataset.kind = "network";
      message.textContent = "Blu can't be reached. Check your connection and try again.";
      return;
    }
    let body: { detail?: string; retry_after?: number } = {};
    try {
      body = await response.json();
    } catch {
      // keep defaults
    }
    const wait = Number(body.retry_after ?? response.headers.get("retry-after") ?? 0) || 0;
    input.select();
    if (response.status === 429) {
      message.dataset.kind = "throttled";
      waitThenEnable(wait || 1, (left) => `Too many wrong passwords. Try again in ${left} s.`);
    } else if (response.status === 401) {
      message.dataset.kind = "wrong";
      if (wait > 0) {
        waitThenEnable(wait, (left) => `Wrong password. Try again in ${left} s.`);
      } else {
        message.textContent = "Wrong password.";
      }
    } else {
      message.dataset.kind = "error";
      message.textContent = body.detail || `Login failed (HTTP ${response.status}). Try again.`;
    }
  });
  return form;
}
