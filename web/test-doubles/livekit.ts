// Test double of web/src/voice/livekit.ts (built only by `npm run build:web-test`): no LiveKit server,
// the real microphone (Chromium's fake device), and a handle on window.voiceDouble the browser tests drive.
import { openMicrophone } from "../src/voice/microphone";
import { VoiceError, type AgentState, type CallEvents, type Transcript, type VoiceCall, type VoiceFailure } from "../src/voice/types";

interface Pending {
  resolve(): void;
  reject(error: Error): void;
}

class DoubleHandle {
  connects: { url: string; token: string }[] = [];
  muted = false;
  hangUps = 0;
  active = false;
  private events: CallEvents | null = null;
  private pending: Pending | null = null;
  private microphone: MediaStreamTrack | null = null;

  get waiting(): boolean {
    return this.pending !== null;
  }

  /** The pending connect succeeds. */
  accept(): void {
    this.take().resolve();
    this.active = true;
    this.events?.connected();
  }

  /** The pending connect fails the way the adapter reports it. */
  fail(kind: VoiceFailure, message = "test double"): void {
    this.stopMicrophone();
    this.take().reject(new VoiceError(kind, message));
  }

  agentState(state: AgentState): void {
    this.events?.agentState(state);
  }

  transcript(segment: Transcript): void {
    this.events?.transcript(segment);
  }

  levels(local: number, remote: number): void {
    this.events?.levels(local, remote);
  }

  reconnecting(): void {
    this.events?.reconnecting();
  }

  reconnected(): void {
    this.events?.connected();
  }

  /** The call ends without a hang-up (server closed it, network lost). */
  drop(reason = "SIGNAL_CLOSE"): void {
    this.active = false;
    this.stopMicrophone();
    this.events?.disconnected(reason);
  }

  call(events: CallEvents): VoiceCall {
    this.events = events;
    this.muted = false;
    return {
      connect: async (url, token) => {
        this.connects.push({ url, token });
        this.microphone = await openMicrophone();
        await new Promise<void>((resolve, reject) => (this.pending = { resolve, reject }));
      },
      setMuted: async (muted) => {
        this.muted = muted;
      },
      hangUp: async () => {
        this.hangUps += 1;
        this.active = false;
        this.stopMicrophone();
        this.pending?.reject(new VoiceError("other", "hung up"));
        this.pending = null;
      },
    };
  }

  private take(): Pending {
    const pending = this.pending;
    if (!pending) throw new Error("no connect is waiting");
    this.pending = null;
    return pending;
  }

  private stopMicrophone(): void {
    this.microphone?.stop();
    this.microphone = null;
  }
}

const handle = new DoubleHandle();
(window as unknown as { voiceDouble: DoubleHandle }).voiceDouble = handle;

export const createCall = (events: CallEvents): VoiceCall => handle.call(events);
