// The voice call as the UI sees it. Only ./livekit.ts (or the test double that replaces it) implements it.

/** The voice agent's state, from its `lk.agent.state` attribute; "waiting" until the agent has joined. */
export type AgentState = "waiting" | "initializing" | "idle" | "listening" | "thinking" | "speaking";

/** Why a call could not start or go on. */
export type VoiceFailure =
  | "no-microphone"
  | "permission-denied"
  | "microphone-busy"
  | "unsupported"
  | "unreachable"
  | "rejected"
  | "other";

export interface Transcript {
  /** The segment id: interim updates of one utterance share it. */
  id: string;
  speaker: "user" | "agent";
  text: string;
  final: boolean;
}

export interface CallEvents {
  connected(): void;
  reconnecting(): void;
  /** The call ended without hangUp(): the server closed it, the network dropped, or the room went away. */
  disconnected(reason: string): void;
  agentState(state: AgentState): void;
  transcript(segment: Transcript): void;
  /** Audio levels 0..1 of the microphone and of the agent's voice, a few times a second. */
  levels(local: number, remote: number): void;
}

export interface VoiceCall {
  connect(url: string, token: string): Promise<void>;
  setMuted(muted: boolean): Promise<void>;
  hangUp(): Promise<void>;
}

export type CreateCall = (events: CallEvents) => VoiceCall;

export class VoiceError extends Error {
  constructor(
    readonly kind: VoiceFailure,
    message: string,
  ) {
    super(message);
    this.name = "VoiceError";
  }
}
