/**
 * Headless Chromium for tests that must see a page the way a reader does (the posture report).
 *
 * We drive the distribution's browser (Debian `chromium`) through playwright-core and never let
 * Playwright download one: CI installs the package, and a test that needs a browser FAILS with a
 * clear message when it is missing rather than skipping, because a skipped screenshot test is how
 * a broken report ships unnoticed.
 */
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Override for machines where the browser lives elsewhere (e.g. a developer's laptop). */
export const CHROMIUM_PATH = process.env['TETHER_CHROMIUM'] ?? '/usr/bin/chromium';

// Quiet, offline-friendly flags: no sandbox (root in CI containers), no GPU, and none of the
// background traffic (updates, sync, QUIC probes) that would show up as stray requests.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM_MISSING_MESSAGE =
  `Chromium not found at ${CHROMIUM_PATH}. Install it with "apt-get install -y chromium" ` +
  '(or set TETHER_CHROMIUM to its path). This test does not skip: the report must be checked in a real browser.';

/** True if the Chromium binary exists and is executable. */
export async function chromiumAvailable(): Promise<boolean> {
  try {
    await access(CHROMIUM_PATH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface ChromiumPageOptions {
  readonly viewport?: { readonly width: number; readonly height: number };
}

/**
 * Launch Chromium with a fresh profile, hand `fn` a page, then close the browser and delete the
 * profile whatever `fn` does. Throws CHROMIUM_MISSING_MESSAGE if the browser is not installed.
 */
export async function withChromiumPage<T>(
  fn: (page: Page, context: BrowserContext) => Promise<T>,
  options: ChromiumPageOptions = {},
): Promise<T> {
  if (!(await chromiumAvailable())) throw new Error(CHROMIUM_MISSING_MESSAGE);
  // Playwright refuses `--user-data-dir` in args; a persistent context is how it takes one.
  const profile = await mkdtemp(join(tmpdir(), 'tether-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      viewport: { width: options.viewport?.width ?? 1280, height: options.viewport?.height ?? 900 },
      deviceScaleFactor: 1,
      timeout: 60_000,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return await fn(page, context);
  } finally {
    await context?.close().catch(() => undefined);
    await rm(profile, { recursive: true, force: true });
  }
}
