// The microphone, without LiveKit: getUserMedia with the browser's errors named, and a level meter.
import { VoiceError } from "./types";

const CONSTRAINTS: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export function mediaFailure(error: unknown): VoiceError {
  const name = error instanceof DOMException || error instanceof Error ? error.name : "";
  const message = error instanceof Error ? error.message : String(error);
  if (name === "NotAllowedError" || name === "SecurityError") return new VoiceError("permission-denied", message);
  if (name === "NotFoundError" || name === "OverconstrainedError") return new VoiceError("no-microphone", message);
  if (name === "NotReadableError" || name === "AbortError") return new VoiceError("microphone-busy", message);
  return new VoiceError("other", message);
}

export async function openMicrophone(): Promise<MediaStreamTrack> {
  if (!navigator.mediaDevices?.getUserMedia) throw new VoiceError("unsupported", "getUserMedia is not available");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: CONSTRAINTS });
    const [track] = stream.getAudioTracks();
    if (!track) throw new DOMException("No audio track", "NotFoundError");
    return track;
  } catch (error) {
    throw mediaFailure(error);
  }
}

/** Samples levels (0..1, RMS scaled) of audio tracks through one AudioContext. */
export class LevelMeter {
  private context: AudioContext | null = null;
  private analysers = new Map<string, { node: AnalyserNode; source: MediaStreamAudioSourceNode }>();
  private buffer = new Float32Array(512);

  watch(key: string, track: MediaStreamTrack): void {
    this.unwatch(key);
    this.context ??= new AudioContext();
    void this.context.resume().catch(() => undefined);
    const source = this.context.createMediaStreamSource(new MediaStream([track]));
    const node = this.context.createAnalyser();
    node.fftSize = 512;
    source.connect(node);
    this.analysers.set(key, { node, source });
  }

  unwatch(key: string): void {
    const entry = this.analysers.get(key);
    if (!entry) return;
    entry.source.disconnect();
    this.analysers.delete(key);
  }

  level(key: string): number {
    const entry = this.analysers.get(key);
    if (!entry) return 0;
    entry.node.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const sample of this.buffer) sum += sample * sample;
    return Math.min(1, Math.sqrt(sum / this.buffer.length) * 4);
  }

  close(): void {
    for (const key of [...this.analysers.keys()]) this.unwatch(key);
    void this.context?.close().catch(() => undefined);
    this.context = null;
  }
}
