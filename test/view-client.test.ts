/**
 * The bundled browser client (src/view/client/) in real headless Chromium,
 * beyond the tour of view-browser.test.ts: hostile names and contents stay
 * text (live page and static report), and a refused pick shows the server's
 * error with its hint while the user's bytes stay as they were.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startViewer, type Viewer } from '../src/view/server.js';
import { writeReport } from '../src/view/report.js';
import { BASE_FILES, buildRace, makeFakeRace } from './support/fake-race.js';
import { tempDir, write } from './support/repo.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`view-client.test.ts: skipped, ${CHROMIUM} is absent (apt-get install chromium)`);

/** A path and a file body that would run script if the page ever parsed them as HTML. */
const HOSTILE_PATH = 'src/<img src=x onerror="window.__pwned=1">.ts';
const HOSTILE_TEXT = '</script><img src=x onerror="window.__pwned=1"><b>bold</b>\n';

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe.skipIf(!haveChromium)('the bundled client in headless Chromium', () => {
  let context: BrowserContext;
  const viewers: Viewer[] = [];

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(tempDir('ckpt-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
    });
  });

  afterAll(async () => {
    await context?.close();
    for (const v of viewers) await v.close();
  });

  async function open(url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    return { page, errors };
  }

  /** Checks that the hostile file is shown as text: its path, its line, no element made from it, no script run. */
  async function expectInert(page: Page): Promise<void> {
    const section = page.locator(`section.file[data-path="${HOSTILE_PATH.replace(/"/g, '\\"')}"]`);
    await section.locator('table.grid').waitFor();
    expect(await section.locator('h2 .path').textContent()).toBe(HOSTILE_PATH);
    expect(await section.locator('td.acell .l .c').first().textContent()).toBe(HOSTILE_TEXT.slice(0, -1));
    expect(await page.locator('#filelist a .p', { hasText: 'onerror' }).textContent()).toBe(HOSTILE_PATH);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('main b', { hasText: 'bold' }).count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
  }

  it('shows hostile file names and contents as text, on the live page and in the static report', async () => {
    const fake = await buildRace('xss', BASE_FILES, {
      claude: [{ tool: 'Write', target: HOSTILE_PATH, files: { [HOSTILE_PATH]: HOSTILE_TEXT } }],
      codex: [],
    });
    const viewer = await startViewer({ repo: fake.repo, race: fake.race });
    viewers.push(viewer);
    const live = await open(viewer.url);
    await expectInert(live.page);
    expect(live.errors).toEqual([]);
    await live.page.close();

    const out = path.join(tempDir(), 'report.html');
    await writeReport({ repo: fake.repo, race: fake.race, out });
    const report = await open('file://' + out);
    await expectInert(report.page);
    expect(report.errors).toEqual([]);
    await report.page.close();
  });

  it("shows a refused pick with the server's code and hint, and changes no byte", async () => {
    const fake = await makeFakeRace('refuse');
    write(fake.dir, { 'src/math.ts': 'my own work\n' });
    const before = sha256(path.join(fake.dir, 'src/math.ts'));
    const viewer = await startViewer({ repo: fake.repo, race: fake.race });
    viewers.push(viewer);
    const { page, errors } = await open(viewer.url);
    await page.locator('button.pick[data-attempt="claude"]').click();
    await page.locator('#confirm-pick').click();
    await page.locator('#pick-error').waitFor();
    const text = await page.locator('#pick-error').textContent();
    expect(text).toContain('Refused; nothing was changed.');
    expect(await page.locator('#pick-error .meta').textContent()).toMatch(/Nothing was changed/);
    expect(await page.locator('#modal').count()).toBe(0);
    expect(await page.locator('#summary-table tr[data-attempt="claude"]').textContent()).not.toContain('picked');
    expect(sha256(path.join(fake.dir, 'src/math.ts'))).toBe(before);
    // The failed request is the browser's one console error; nothing threw in the page.
    expect(errors.filter((e) => !/status of 409/.test(e))).toEqual([]);
    await page.close();
  });
});
