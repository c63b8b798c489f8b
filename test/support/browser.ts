import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium (the `chromium` package), never a browser Playwright downloads: /usr/bin/chromium, or
 * the first `chromium` on PATH. Undefined when neither exists.
 */
export function findChromium(): string | undefined {
  const candidates = [
    '/usr/bin/chromium',
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'chromium')),
  ];
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Launches a headless Debian Chromium through playwright-core, for tests that go through real web pages
 * (OAuth consent pages, the dashboard). `--no-sandbox` because the tests run as root, where Chromium refuses
 * its own sandbox. The caller closes it.
 *
 * @example
 * const browser = await launchBrowser();
 * const page = await browser.newPage();
 * await page.goto(url);
 * await browser.close();
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error(
      'Chromium is not installed (looked for /usr/bin/chromium and chromium on PATH): run `bash scripts/install-test-tools.sh`',
    );
  }
  return chromium.launch({
    executablePath,
    headless: true,
    // --disable-dev-shm-usage: containers often give /dev/shm 64 MB, too little for a renderer.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}
