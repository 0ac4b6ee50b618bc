// Real browsers for tests: Debian's Chromium driven by playwright-core, with a fake camera and microphone, on
// the web-demo pages (publish.html / play.html expose their session on `window.whipcast`).
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../src/config/config.js';
import type { WhipcastServer } from '../../src/server.js';
import { startTestServer, waitUntil, type DeepPartial } from './server.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

/** What the demo pages put on `window.whipcast` (see web-demo/publish.html and play.html). */
interface PageSession {
  pc: RTCPeerConnection;
  location: string;
  answer: string;
}
interface PageState {
  session?: PageSession;
  error?: string;
  state?: string;
  connectionState?: string;
  framesDecoded?: number;
  /** play.html with HLS: the variant playing. */
  hlsVariant?: { name: string; width: number; height: number; bandwidthBps: number };
}
declare global {
  interface Window {
    whipcast?: PageState;
  }
}

export interface ChromiumBrowser {
  browser: Browser;
  /** A new incognito-like context (own cookies, own devices): one per simulated user. */
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Launches Chromium (`executablePath`: a wrapper that starts it elsewhere, e.g. in a network namespace, see
 * EmulatedHost.wrapperFor). playwright-core gives every launch a fresh temporary user-data-dir (removed on close), and
 * each page opened here lives in its own context, so a publisher and a viewer share nothing but the process.
 */
export async function launchChromium(options: { executablePath?: string; secureOrigins?: string[] } = {}): Promise<ChromiumBrowser> {
  // Pages get the camera only in a secure context: localhost, or an origin named here (a server on a veth address).
  const args = options.secureOrigins ? [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${options.secureOrigins.join(',')}`] : CHROMIUM_ARGS;
  const browser = await chromium.launch({ executablePath: options.executablePath ?? CHROMIUM_PATH, args, headless: true });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    newPage: async () => {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (error) => console.error(`[browser page error] ${page.url()}: ${error.message}`));
      return page;
    },
    close: async () => {
      await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
      await browser.close();
    },
  };
}

export interface PublishPageOptions {
  /** "app/stream" */
  stream: string;
  codec?: 'H264' | 'VP8' | 'VP9';
  simulcast?: boolean;
}

/** Opens publish.html with the fake camera + microphone and waits until its WHIP session is connected. */
export async function openPublisher(browser: ChromiumBrowser, httpUrl: string, options: PublishPageOptions): Promise<Page> {
  const query = new URLSearchParams({ stream: options.stream, codec: options.codec ?? 'H264' });
  if (options.simulcast) query.set('simulcast', '');
  query.set('autostart', '');
  const page = await browser.newPage();
  await page.goto(`${httpUrl}/publish.html?${query.toString()}`);
  await waitForConnected(page, `publisher ${options.stream}`);
  return page;
}

/** Opens play.html and waits until its WHEP session is connected. */
export async function openPlayer(browser: ChromiumBrowser, httpUrl: string, stream: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${httpUrl}/play.html?${new URLSearchParams({ stream, autoplay: '' }).toString()}`);
  await waitForConnected(page, `player ${stream}`);
  return page;
}

async function waitForConnected(page: Page, what: string): Promise<void> {
  await waitUntil(async () => {
    const state = await page.evaluate(() => ({ error: window.whipcast?.error, connection: window.whipcast?.session?.pc.connectionState }));
    if (state.error !== undefined) throw new Error(`${what}: ${state.error}`);
    if (state.connection === 'failed' || state.connection === 'closed') throw new Error(`${what}: connection ${state.connection}`);
    return state.connection === 'connected';
  }, `${what} connected`);
}

/** The page's RTCPeerConnection state ('gone' if the page has no session). */
export function connectionState(page: Page): Promise<string> {
  return page.evaluate(() => window.whipcast?.session?.pc.connectionState ?? 'gone');
}

/** The offer the page sent and the answer the server returned, as text. */
export function pageSdp(page: Page): Promise<{ offer: string; answer: string }> {
  return page.evaluate(() => ({ offer: window.whipcast?.session?.pc.localDescription?.sdp ?? '', answer: window.whipcast?.session?.answer ?? '' }));
}

export interface RtpStats {
  kind: string;
  codec: string | undefined;
  payloadType: number | undefined;
  packets: number;
  framesDecoded: number;
  framesEncoded: number;
  frameWidth: number;
  rid: string | undefined;
}

/** inbound-rtp and outbound-rtp stats of the page's connection, with their codec resolved. */
export function rtpStats(page: Page, type: 'inbound-rtp' | 'outbound-rtp'): Promise<RtpStats[]> {
  return page.evaluate(async (type) => {
    const pc = window.whipcast?.session?.pc;
    if (!pc) return [];
    const report = await pc.getStats();
    const all = [...(report as unknown as Map<string, Record<string, unknown>>).values()];
    return all
      .filter((s) => s.type === type)
      .map((s) => {
        const codec = all.find((c) => c.id === s.codecId);
        return {
          kind: String(s.kind),
          codec: codec?.mimeType as string | undefined,
          payloadType: codec?.payloadType as number | undefined,
          packets: Number(s.packetsReceived ?? s.packetsSent ?? 0),
          framesDecoded: Number(s.framesDecoded ?? 0),
          framesEncoded: Number(s.framesEncoded ?? 0),
          frameWidth: Number(s.frameWidth ?? 0),
          rid: s.rid as string | undefined,
        };
      });
  }, type);
}

/** Frames the page's video receiver has decoded so far. */
export async function framesDecoded(page: Page): Promise<number> {
  return (await rtpStats(page, 'inbound-rtp')).filter((s) => s.kind === 'video').reduce((sum, s) => sum + s.framesDecoded, 0);
}

/** A server and a headless Chromium for one test file: started before its tests, closed after them. */
export function serverAndChromium(overrides: DeepPartial<Config> = {}): { server: WhipcastServer; browser: ChromiumBrowser } {
  const rig = {} as { server: WhipcastServer; browser: ChromiumBrowser };
  beforeAll(async () => {
    rig.server = await startTestServer(overrides);
    rig.browser = await launchChromium();
  });
  afterAll(async () => {
    await rig.browser?.close();
    await rig.server?.close();
  });
  return rig;
}

/** How the page's video arrives: what Chromium's inbound-rtp stats say about losses, repairs and smoothness. */
export interface VideoReceiveQuality {
  framesDecoded: number;
  framesDropped: number;
  frameWidth: number;
  packetsLost: number;
  nackCount: number;
  retransmittedPacketsReceived: number;
  freezeCount: number;
  totalFreezesDuration: number;
}

export function videoReceiveQuality(page: Page): Promise<VideoReceiveQuality> {
  return page.evaluate(async () => {
    const report = await window.whipcast?.session?.pc.getStats();
    const video = [...((report ?? new Map()) as unknown as Map<string, Record<string, unknown>>).values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'video') ?? {};
    const n = (key: string): number => Number(video[key] ?? 0);
    return {
      framesDecoded: n('framesDecoded'),
      framesDropped: n('framesDropped'),
      frameWidth: n('frameWidth'),
      packetsLost: n('packetsLost'),
      nackCount: n('nackCount'),
      retransmittedPacketsReceived: n('retransmittedPacketsReceived'),
      freezeCount: n('freezeCount'),
      totalFreezesDuration: n('totalFreezesDuration'),
    };
  });
}
