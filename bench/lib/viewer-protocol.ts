// Messages between bench/fanout.ts and its viewer child processes (bench/viewer-process.ts), over the fork IPC.
import type { StreamWindow } from './rtp.js';
import type { EncoderOptions, Feedback } from './webrtc.js';

export type ViewerCommand =
  | { id: number; cmd: 'join'; url: string; count: number; concurrency: number; timeoutMs: number; feedback: Feedback; light: boolean }
  | { id: number; cmd: 'window-start' }
  | { id: number; cmd: 'window-end' }
  | { id: number; cmd: 'close' }
  /** Makes this process the publisher instead (ffmpeg → werift → WHIP), so its CPU is not the server's. */
  | { id: number; cmd: 'publish'; url: string; encoder: EncoderOptions };

export interface ViewerWindow {
  state: string;
  video: StreamWindow;
  audio: StreamWindow;
}

export type ViewerReply =
  | { id: number; type: 'joined'; ok: number; failed: number; errors: string[]; joinMs: number[]; total: number }
  | { id: number; type: 'window-started' }
  | { id: number; type: 'window'; viewers: ViewerWindow[]; loopDelayMs: { p99: number; max: number } }
  | { id: number; type: 'closed' }
  | { id: number; type: 'published'; encoderPid: number }
  | { id: number; type: 'error'; message: string };
