// Debian's Chromium driven by playwright-core (never `npx playwright install`): fake camera + microphone,
// the flags headless runs need here (no sandbox, no GPU, fake media). playwright gives each launch a fresh user-data-dir.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../test/helpers/browser.js';

export interface BenchBrowser {
  browser: Browser;
  version: string;
  /** A page in its own context (own devices, own storage). */
  newPage(): Promise<{ page: Page; close: () => Promise<void> }>;
  close(): Promise<void>;
}

/**
 * `executablePath`: another way to start Debian's Chromium (e.g. a wrapper that runs it in a network namespace);
 * `initScript`: JavaScript every page runs before its own scripts; `secureOrigin`: a plain-HTTP origin whose pages
 * may use the camera (one that is not localhost).
 */
export async function launchChromium(options: { executablePath?: string; initScript?: string; secureOrigin?: string } = {}): Promise<BenchBrowser> {
  const args = options.secureOrigin ? [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${options.secureOrigin}`] : CHROMIUM_ARGS;
  const browser = await chromium.launch({ executablePath: options.executablePath ?? CHROMIUM_PATH, args, headless: true });
  const contexts = new Set<BrowserContext>();
  return {
    browser,
    version: browser.version(),
    newPage: async () => {
      const context = await browser.newContext();
      if (options.initScript) await context.addInitScript(options.initScript);
      contexts.add(context);
      const page = await context.newPage();
      page.on('pageerror', (error) => console.error(`[page error] ${page.url()}: ${error.message}`));
      return {
        page,
        close: async () => {
          contexts.delete(context);
          await context.close().catch(() => undefined);
        },
      };
    },
    close: async () => {
      await Promise.all([...contexts].map((c) => c.close().catch(() => undefined)));
      await browser.close().catch(() => undefined);
    },
  };
}
