// The only module that uses livekit-client: a call in the session's room, reduced to the VoiceCall interface.
// Tests replace this whole module with web/test-doubles/livekit.ts (vite --mode voice-double).
import {
  ConnectionError,
  DisconnectReason,
  LocalAudioTrack,
  Room,
  RoomEvent,
  Track,
  type Participant,
  type RemoteTrack,
  type TextStreamReader,
} from "livekit-client";
import { LevelMeter, mediaFailure, openMicrophone } from "./microphone";
import { VoiceError, type AgentState, type CallEvents, type VoiceCall } from "./types";

const AGENT_STATE = "lk.agent.state";
const TRANSCRIPTION_TOPIC = "lk.transcription";
const STATES = new Set<AgentState>(["initializing", "idle", "listening", "thinking", "speaking"]);
const LEVEL_INTERVAL_MS = 100;

function connectFailure(error: unknown): VoiceError {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConnectionError && (error.status === 401 || error.status === 403)) {
    return new VoiceError("rejected", message);
  }
  return new VoiceError("unreachable", message);
}

export const createCall = (events: CallEvents): VoiceCall => new LiveKitCall(events);

class LiveKitCall implements VoiceCall {
  private room = new Room({ adaptiveStream: false, dynacast: false, disconnectOnPageLeave: true });
  private meter = new LevelMeter();
  private microphone: LocalAudioTrack | null = null;
  private audio = new Map<string, HTMLMediaElement>();
  private timer = 0;
  private ended = false;

  constructor(private events: CallEvents) {
    const room = this.room;
    room.on(RoomEvent.Reconnecting, () => events.reconnecting());
    room.on(RoomEvent.Reconnected, () => events.connected());
    room.on(RoomEvent.Disconnected, (reason?: DisconnectReason) => this.onDisconnected(reason));
    room.on(RoomEvent.ParticipantConnected, (p: Participant) => this.readAgentState(p));
    room.on(RoomEvent.ParticipantAttributesChanged, (_changed: Record<string, string>, p: Participant) => this.readAgentState(p));
    room.on(RoomEvent.ParticipantDisconnected, (p: Participant) => {
      if (p.attributes[AGENT_STATE] !== undefined) events.agentState("waiting");
    });
    room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => this.onTrack(track));
    room.on(RoomEvent.TrackUnsubscribed, (track: RemoteTrack) => this.dropTrack(track));
    room.registerTextStreamHandler(TRANSCRIPTION_TOPIC, (reader, from) => void this.readTranscript(reader, from.identity));
  }

  async connect(url: string, token: string): Promise<void> {
    // The microphone first: "permission denied" should not wait for a network round trip.
    const mediaTrack = await openMicrophone();
    try {
      await this.room.connect(url, token, { autoSubscribe: true });
    } catch (error) {
      mediaTrack.stop();
      throw connectFailure(error);
    }
    try {
      this.microphone = new LocalAudioTrack(mediaTrack, undefined, true);
      await this.room.localParticipant.publishTrack(this.microphone, { source: Track.Source.Microphone });
    } catch (error) {
      await this.hangUp();
      throw mediaFailure(error);
    }
    this.meter.watch("local", mediaTrack);
    this.timer = window.setInterval(() => this.events.levels(this.meter.level("local"), this.meter.level("remote")), LEVEL_INTERVAL_MS);
    await this.room.startAudio().catch(() => undefined);
    for (const participant of this.room.remoteParticipants.values()) this.readAgentState(participant);
    this.events.connected();
  }

  async setMuted(muted: boolean): Promise<void> {
    if (!this.microphone) return;
    if (muted) await this.microphone.mute();
    else await this.microphone.unmute();
  }

  async hangUp(): Promise<void> {
    this.ended = true;
    this.cleanUp();
    await this.room.disconnect(true);
  }

  private onDisconnected(reason?: DisconnectReason): void {
    this.cleanUp();
    if (this.ended || reason === DisconnectReason.CLIENT_INITIATED) return;
    this.ended = true;
    this.events.disconnected(reason === undefined ? "unknown" : DisconnectReason[reason] ?? String(reason));
  }

  private cleanUp(): void {
    window.clearInterval(this.timer);
    this.meter.close();
    this.microphone?.stop();
    for (const element of this.audio.values()) element.remove();
    this.audio.clear();
  }

  private readAgentState(participant: Participant): void {
    const state = participant.attributes[AGENT_STATE] as AgentState | undefined;
    if (state && STATES.has(state)) this.events.agentState(state);
  }

  private onTrack(track: RemoteTrack): void {
    if (track.kind !== Track.Kind.Audio) return;
    const element = track.attach();
    element.hidden = true;
    document.body.append(element);
    this.audio.set(track.sid ?? "", element);
    this.meter.watch("remote", track.mediaStreamTrack);
  }

  private dropTrack(track: RemoteTrack): void {
    if (track.kind !== Track.Kind.Audio) return;
    this.audio.get(track.sid ?? "")?.remove();
    this.audio.delete(track.sid ?? "");
    track.detach();
    this.meter.unwatch("remote");
  }

  /** One stream per update of a segment: the user's arrive whole each time, the agent's as deltas. */
  private async readTranscript(reader: TextStreamReader, sender: string): Promise<void> {
    const attributes = reader.info.attributes ?? {};
    const id = attributes["lk.segment_id"] ?? reader.info.id;
    const speaker = sender === this.room.localParticipant.identity ? "user" : "agent";
    let text = "";
    try {
      for await (const chunk of reader) {
        text += chunk;
        this.events.transcript({ id, speaker, text, final: false });
      }
    } catch {
      return; // the stream broke off (call ended): its text stays as it was
    }
    const final = attributes["lk.transcription_final"] === "true" || speaker === "agent";
    this.events.transcript({ id, speaker, text, final });
  }
}
