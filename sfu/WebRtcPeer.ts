// What WHIP publishers and WHEP viewers share: one WebRtcTransport on a worker's WebRtcServer, connected with
// the offer's DTLS fingerprint, watched until it closes. A peer closes itself when ICE never connects, when
// ICE/DTLS fail, or when no packets arrive for a while (a client whose network vanished sends no DELETE).
import type { types as ms } from 'mediasoup';
import { Endpoint } from './Endpoint.js';
import { SdpError } from './errors.js';
import type { Logger } from './logger.js';
import { answerSetup, type LocalIce } from './sdp/answer.js';
import type { ParsedOffer } from './sdp/offer.js';
import type { WorkerSlot } from './WorkerPool.js';

export interface PeerTimeouts {
  /** Close if ICE has not connected this long after the answer. */
  iceConnectMs: number;
  /** Close if ICE stays disconnected this long. */
  iceDisconnectMs: number;
  /** Close if the transport receives nothing for this long (checked every `inactivityCheckMs`). */
  inactivityMs: number;
  inactivityCheckMs: number;
}

/** ICE as mediasoup (ICE-lite) sees it. */
export type IceState = 'new' | 'connected' | 'completed' | 'disconnected' | 'closed';

const FINGERPRINT_ALGORITHMS = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);

export async function createPeerTransport(
  router: ms.Router,
  slot: WorkerSlot,
  offer: ParsedOffer,
  options: { initialAvailableOutgoingBitrate?: number },
): Promise<ms.WebRtcTransport> {
  if (!FINGERPRINT_ALGORITHMS.has(offer.fingerprint.algorithm)) {
    throw new SdpError(`unsupported DTLS fingerprint algorithm ${offer.fingerprint.algorithm}`);
  }
  const transport = await router.createWebRtcTransport({
    webRtcServer: slot.webRtcServer,
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    ...(options.initialAvailableOutgoingBitrate ? { initialAvailableOutgoingBitrate: options.initialAvailableOutgoingBitrate } : {}),
  });
  try {
    // mediasoup takes the remote's role: answering "active" (we are the DTLS client) makes the remote the server.
    const remoteRole = answerSetup(offer) === 'passive' ? 'client' : 'server';
    await transport.connect({
      dtlsParameters: {
        role: remoteRole,
        fingerprints: [{ algorithm: offer.fingerprint.algorithm, value: offer.fingerprint.value }],
      },
    });
  } catch (error) {
    transport.close();
    throw new SdpError(`invalid DTLS parameters in offer: ${(error as Error).message}`);
  }
  return transport;
}

/** What a publisher or viewer is made of besides its media: the transport, where it runs, the offer it answered. */
export interface PeerParts {
  id: string;
  transport: ms.WebRtcTransport;
  slot: WorkerSlot;
  offer: ParsedOffer;
  timeouts: PeerTimeouts;
  logger: Logger;
}

export abstract class WebRtcPeer extends Endpoint {
  private readonly timers = new Set<NodeJS.Timeout>();
  private disconnectTimer: NodeJS.Timeout | undefined;
  private lastBytesReceived = -1;
  private idleSinceMs = 0;

  readonly transport: ms.WebRtcTransport;
  protected readonly offer: ParsedOffer;
  private readonly timeouts: PeerTimeouts;

  protected constructor(peer: PeerParts) {
    super(peer.id, peer.slot, [peer.transport], peer.logger);
    this.transport = peer.transport;
    this.offer = peer.offer;
    this.timeouts = peer.timeouts;
    this.watch();
  }

  /** The client's ICE username fragment, from its offer. */
  get remoteIceUfrag(): string {
    return this.offer.iceUfrag;
  }

  /** mids of the offer's sections, in order (for ICE-restart fragments). */
  get mids(): string[] {
    return this.offer.media.map((m) => m.mid);
  }

  get iceState(): IceState {
    return this.transport.iceState;
  }

  localIce(): LocalIce {
    const fingerprint = this.transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? this.transport.dtlsParameters.fingerprints[0];
    if (!fingerprint) throw new Error('mediasoup transport has no DTLS fingerprint');
    return { iceParameters: this.transport.iceParameters, iceCandidates: this.transport.iceCandidates, fingerprint };
  }

  /** New local ICE credentials (the client restarts ICE with them). */
  async restartIce(): Promise<LocalIce> {
    await this.transport.restartIce();
    return this.localIce();
  }

  protected override release(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.clearDisconnectTimer();
  }

  private watch(): void {
    const { iceConnectMs, iceDisconnectMs, inactivityMs, inactivityCheckMs } = this.timeouts;
    const connectTimer = this.addTimer(setTimeout(() => {
      if (!this.isIceConnected()) this.close(`ICE did not connect within ${iceConnectMs} ms`);
    }, iceConnectMs));

    this.transport.on('icestatechange', (state) => {
      this.logger.debug({ iceState: state }, 'ICE state');
      if (state === 'connected' || state === 'completed') {
        this.deleteTimer(connectTimer);
        this.clearDisconnectTimer();
      } else if (state === 'disconnected' && !this.disconnectTimer) {
        this.disconnectTimer = setTimeout(() => this.close(`ICE disconnected for ${iceDisconnectMs} ms`), iceDisconnectMs);
      } else if (state === 'closed') {
        this.close('ICE closed');
      }
    });
    this.transport.on('dtlsstatechange', (state) => {
      this.logger.debug({ dtlsState: state }, 'DTLS state');
      if (state === 'failed' || state === 'closed') this.close(`DTLS ${state}`);
    });
    this.transport.on('routerclose', () => this.close('stream ended'));

    const inactivity = setInterval(() => void this.checkInactivity(inactivityMs, inactivityCheckMs), inactivityCheckMs);
    this.addTimer(inactivity);
  }

  private async checkInactivity(inactivityMs: number, periodMs: number): Promise<void> {
    if (this.closed || !this.isIceConnected()) return;
    let bytes: number;
    try {
      const [stats] = await this.transport.getStats();
      bytes = stats?.bytesReceived ?? 0;
    } catch {
      return; // closed meanwhile
    }
    if (bytes !== this.lastBytesReceived) {
      this.lastBytesReceived = bytes;
      this.idleSinceMs = 0;
      return;
    }
    this.idleSinceMs += periodMs;
    if (this.idleSinceMs >= inactivityMs) this.close(`nothing received for ${inactivityMs} ms`);
  }

  private isIceConnected(): boolean {
    return this.transport.iceState === 'connected' || this.transport.iceState === 'completed';
  }

  private addTimer(timer: NodeJS.Timeout): NodeJS.Timeout {
    this.timers.add(timer);
    return timer;
  }

  private deleteTimer(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private clearDisconnectTimer(): void {
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.disconnectTimer = undefined;
  }
}
