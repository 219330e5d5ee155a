// Full-screen voice mode: asks for a token, runs a call through ./livekit, shows state, levels and transcript.
// Loaded on demand (the chat's first load does not carry it or livekit-client).
import "./voice.css";
import { api, ApiError, type VoiceToken } from "../api";
import { announce, h } from "../dom";
import { icon } from "../icons";
import { VoiceError, type AgentState, type Transcript, type VoiceCall } from "./types";

type Phase = "connecting" | "reconnecting" | "failed" | AgentState;
type Failure = VoiceError["kind"] | "not-configured" | "token-failed" | "dropped";

const STATUS: Record<Phase, string> = {
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  failed: "Call ended",
  waiting: "Waiting for Blu to join…",
  initializing: "Blu is getting ready…",
  idle: "Listening",
  listening: "Listening",
  thinking: "Thinking…",
  speaking: "Speaking",
};

const FAILURES: Record<Failure, string> = {
  "no-microphone": "No microphone was found. Connect one (or pick one in your system's sound settings), then try again.",
  "permission-denied":
    "Blu isn't allowed to use your microphone. Allow the microphone for this site in your browser (the icon beside the address), then try again.",
  "microphone-busy": "Your microphone couldn't be opened: another app may be using it. Close that app, then try again.",
  unsupported: "This browser can't record audio on this page. Voice needs a current browser and an HTTPS address.",
  unreachable: "Couldn't reach the voice service (LiveKit). Check your connection, or LIVEKIT_URL in Blu's secret, then try again.",
  rejected: "The voice service (LiveKit) refused the call. Check LIVEKIT_API_KEY and LIVEKIT_API_SECRET in Blu's secret.",
  "not-configured": "Voice isn't set up on this Blu. Set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET in Blu's secret.",
  "token-failed": "Blu couldn't start the call.",
  dropped: "The call dropped. Everything said so far is saved in the chat. Call again to go on.",
  other: "The call failed.",
};

const MAX_LINES = 60;

export interface VoiceModeOptions {
  sessionId: string;
  onClose(): void;
}

export interface VoiceMode {
  close(): void;
}

export function openVoiceMode(options: VoiceModeOptions): VoiceMode {
  let call: VoiceCall | null = null;
  let muted = false;
  let closed = false;
  let attempt = 0;
  const lines = new Map<string, HTMLLIElement>();

  const status = h("p", { class: "voice__status", role: "status", "aria-live": "polite", "data-testid": "voice-status" });
  const orb = h("div", { class: "voice__orb", "aria-hidden": "true" });
  const bar = (who: string) => h("span", { class: "voice__bar" }, h("i", { "data-testid": `voice-level-${who}` }));
  const localBar = bar("local");
  const remoteBar = bar("remote");
  const meters = h(
    "div",
    { class: "voice__meters", "aria-hidden": "true" },
    h("span", { class: "voice__who" }, "You"),
    localBar,
    h("span", { class: "voice__who" }, "Blu"),
    remoteBar,
  );
  const transcript = h("ol", { class: "voice__transcript", "aria-label": "Transcript", "data-testid": "voice-transcript" });
  const errorText = h("p", { class: "voice__error-text", "data-testid": "voice-error" });
  const retry = h("button", { type: "button", class: "button button--primary", onclick: () => void start() }, "Try again");
  const errorBox = h("div", { class: "voice__error", role: "alert", hidden: true }, errorText, retry);
  const muteButton = h("button", {
    type: "button",
    class: "button voice__mute",
    "aria-pressed": "false",
    "data-testid": "voice-mute",
    onclick: () => void toggleMute(),
  });
  const hangUpButton = h("button", {
    type: "button",
    class: "button button--danger voice__hangup",
    "data-testid": "voice-hangup",
    onclick: () => void close(),
  });
  const root = h(
    "div",
    { class: "voice", role: "dialog", "aria-modal": "true", "aria-labelledby": "voice-title", "data-testid": "voice" },
    h("div", { class: "voice__head" }, h("h2", { id: "voice-title", class: "voice__title" }, "Talking with Blu"), status),
    orb,
    meters,
    transcript,
    errorBox,
    h("div", { class: "voice__controls" }, muteButton, hangUpButton),
  );

  function setPhase(phase: Phase): void {
    root.dataset.state = phase;
    status.textContent = STATUS[phase];
    const live = phase !== "failed";
    muteButton.hidden = !live;
    hangUpButton.replaceChildren(icon(live ? "phone-off" : "close", 20), live ? "Hang up" : "Close");
    hangUpButton.setAttribute("aria-label", live ? "Hang up" : "Close voice mode");
  }

  function renderMute(): void {
    muteButton.setAttribute("aria-pressed", String(muted));
    muteButton.replaceChildren(icon(muted ? "mic-off" : "mic", 20), muted ? "Unmute" : "Mute");
    root.classList.toggle("voice--muted", muted);
  }

  function fail(kind: Failure, detail = ""): void {
    if (closed) return;
    root.dataset.failure = kind;
    setPhase("failed");
    if (kind !== "dropped") status.textContent = "Couldn't start the call";
    errorText.textContent = detail ? `${FAILURES[kind]} (${detail})` : FAILURES[kind];
    errorBox.hidden = false;
    retry.hidden = kind === "not-configured" || kind === "rejected" || kind === "unsupported";
    setLevels(0, 0);
    announce(errorText.textContent);
    (retry.hidden ? hangUpButton : retry).focus();
  }

  function setLevels(local: number, remote: number): void {
    localBar.style.setProperty("--level", String(muted ? 0 : local));
    remoteBar.style.setProperty("--level", String(remote));
    orb.style.setProperty("--level", String(Math.max(remote, muted ? 0 : local * 0.6)));
  }

  function showTranscript(segment: Transcript): void {
    let line = lines.get(segment.id);
    if (!line) {
      line = h("li", { class: `voice__line voice__line--${segment.speaker}` }, h("b", null, segment.speaker === "user" ? "You" : "Blu"), h("span", { dir: "auto" }));
      lines.set(segment.id, line);
      transcript.append(line);
      while (transcript.children.length > MAX_LINES) {
        const first = transcript.firstElementChild as HTMLLIElement;
        lines.forEach((el, key) => el === first && lines.delete(key));
        first.remove();
      }
    }
    line.dataset.final = String(segment.final);
    line.lastElementChild!.textContent = segment.text;
    transcript.scrollTop = transcript.scrollHeight;
  }

  async function start(): Promise<void> {
    const mine = ++attempt;
    const stale = () => closed || mine !== attempt;
    errorBox.hidden = true;
    delete root.dataset.failure;
    muted = false;
    renderMute();
    setPhase("connecting");
    let grant: VoiceToken;
    try {
      grant = await api.voiceToken(options.sessionId);
    } catch (error) {
      if (stale()) return;
      const body = error instanceof ApiError ? (error.body as { code?: string } | null) : null;
      if (body?.code === "voice_not_configured") fail("not-configured");
      else fail("token-failed", (error as Error).message);
      return;
    }
    try {
      const { createCall } = await import("./livekit");
      if (stale()) return;
      call = createCall({
        connected: () => !stale() && setPhase(root.dataset.agent ? (root.dataset.agent as AgentState) : "waiting"),
        reconnecting: () => !stale() && setPhase("reconnecting"),
        disconnected: (reason) => {
          if (stale()) return;
          call = null;
          fail("dropped", reason);
        },
        agentState: (state) => {
          if (stale()) return;
          root.dataset.agent = state;
          if (root.dataset.state !== "reconnecting" && root.dataset.state !== "connecting") setPhase(state);
        },
        transcript: (segment) => !stale() && showTranscript(segment),
        levels: (local, remote) => !stale() && setLevels(local, remote),
      });
      await call.connect(grant.url, grant.token);
    } catch (error) {
      call = null;
      if (stale()) return;
      if (error instanceof VoiceError) fail(error.kind);
      else fail("other", (error as Error).message);
    }
  }

  async function toggleMute(): Promise<void> {
    muted = !muted;
    renderMute();
    setLevels(0, 0);
    await call?.setMuted(muted).catch(() => undefined);
  }

  function close(): void {
    if (closed) return;
    closed = true;
    const ending = call;
    call = null;
    void ending?.hangUp().catch(() => undefined);
    document.removeEventListener("keydown", onKey);
    root.remove();
    options.onClose();
  }

  function onKey(event: KeyboardEvent): void {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  }

  document.addEventListener("keydown", onKey);
  document.body.append(root);
  setPhase("connecting");
  renderMute();
  hangUpButton.focus();
  void start();
  return { close };
}
