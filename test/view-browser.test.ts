/**
 * End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core): the page of a finished race of three fake attempts loads,
 * shows the attempts as columns with the grouped hunks, keyboard navigation
 * moves, the timeline shows a step's files, and "pick" applies the winner to
 * the user's worktree (bytes checked on disk). Screenshots go to
 * test-artifacts/ (git-ignored).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { openRepo } from '../src/git/repo.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { writeReport } from '../src/view/report.js';
import { makeFakeRace, type FakeRace } from './support/fake-race.js';
import { tempDir } from './support/repo.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'test-artifacts');
if (!haveChromium) console.warn(`view-browser.test.ts: skipped, ${CHROMIUM} is absent (apt-get install chromium)`);

describe.skipIf(!haveChromium)('the race page in headless Chromium', () => {
  let fake: FakeRace;
  let viewer: Viewer;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fake = await makeFakeRace('web');
    viewer = await startViewer({ repo: fake.repo, race: fake.race });
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(tempDir('ckpt-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  });

  afterAll(async () => {
    await context?.close();
    await viewer?.close();
  });

  it('loads the race: summary, files, attempts as columns, grouped hunks', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('#summary-table');
    expect(await page.locator('#summary-table tbody tr').count()).toBe(3);
    expect(await page.locator('#task').textContent()).toBe(fake.race.task); // `<b>` shown as text, not markup
    expect(await page.locator('section.file').count()).toBe(5);
    // The first file (README.md) renders when in view: base + three attempt columns, one shared cell.
    const readme = page.locator('section.file[data-path="README.md"]');
    await readme.locator('table.grid').waitFor();
    expect(await readme.locator('table.grid thead th').allTextContents()).toEqual(['base', 'claude M', 'codex M', 'gemini M']);
    expect(await readme.locator('tr.hh').first().textContent()).toContain('same in claude, codex, gemini');
    expect(await readme.locator('td.acell').count()).toBe(1);
    expect(await readme.locator('td.acell').getAttribute('data-attempts')).toBe('claude,codex,gemini');
    // Inside a changed line, the words that changed are marked; the line's text stays whole.
    expect(await readme.locator('td.acell .l.add .w').allTextContents()).toEqual([', improved']);
    expect(await readme.locator('td.acell .l.add .c').first().textContent()).toBe('line three, improved');
    // Files one attempt touched are marked.
    expect(await page.locator('section.file[data-path="src/util.ts"] h2').textContent()).toContain('only codex');
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-light.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  it('moves with the keyboard: j/k between files, d to the next disagreement', async () => {
    await page.keyboard.press('j');
    expect(await page.locator('section.file.current').getAttribute('data-path')).toBe('README.md');
    await page.keyboard.press('j');
    expect(await page.locator('section.file.current').getAttribute('data-path')).toBe('old.txt');
    await page.keyboard.press('k');
    expect(await page.locator('section.file.current').getAttribute('data-path')).toBe('README.md');
    await page.keyboard.press('d');
    await page.waitForSelector('tr.hh.flash');
    expect(await page.locator('section.file.current').getAttribute('data-path')).toBe('src/math.ts');
    expect(await page.locator('#navstatus').textContent()).toContain('disagreement 1 of 2');
    const math = page.locator('section.file[data-path="src/math.ts"]');
    const hunk = math.locator('tr.hb').first();
    expect(await hunk.locator('td.acell').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-attempts')))).toEqual(['claude,codex', 'gemini']);
    expect(await hunk.locator('td.acell').first().textContent()).toContain('same in claude, codex');
    expect(await hunk.locator('td.acell').nth(1).textContent()).toContain('return b + a;');
    expect(await math.locator('tr.hh.flash').textContent()).toContain('differ: claude, codex | gemini');
    await page.keyboard.press('d');
    expect(await page.locator('#navstatus').textContent()).toContain('disagreement 2 of 2');
    expect(await math.locator('tr.hh.flash').textContent()).toContain('only gemini');
    // Highlighted as TypeScript by highlight.js.
    expect(await math.locator('.hljs-keyword').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-disagreement.png') });
  });

  it('filters attempts and switches theme', async () => {
    await page.locator('header input[data-attempt="gemini"]').uncheck();
    const readme = page.locator('section.file[data-path="README.md"]');
    await expect.poll(() => readme.locator('table.grid thead th').count()).toBe(3);
    await page.locator('header input[data-attempt="gemini"]').check();
    await expect.poll(() => readme.locator('table.grid thead th').count()).toBe(4);
    expect(await readme.locator('h2').textContent()).toBe('README.mdclaude Mcodex Mgemini Msame in claude, codex, gemini');
    await page.keyboard.press('t');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { dataset: { theme: string } } } }).document.documentElement.dataset.theme)).toBe('dark');
    await page.evaluate(() => (globalThis as unknown as { scrollTo: (x: number, y: number) => void }).scrollTo(0, 0));
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-dark.png') });
    await page.keyboard.press('t');
  });

  it("shows an attempt's checkpoint timeline and the files at a step", async () => {
    await page.locator('button.timeline[data-attempt="claude"]').click();
    const steps = page.locator('#panel ol.steps li');
    await steps.first().waitFor();
    expect(await steps.count()).toBe(7);
    expect(await steps.first().textContent()).toContain('Edit README.md');
    await steps.nth(2).click(); // "after Write src/extra.ts"
    await page.locator('#panel ul.tree li').first().waitFor();
    expect(await page.locator('#panel h4').first().textContent()).toBe('Changes in this step');
    await page.locator('#panel ul.tree li[data-path="src/extra.ts"]').click();
    await expect.poll(() => page.locator('#blob pre.blob').textContent()).toContain('export const extra = true;');
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-timeline.png') });
    await page.keyboard.press('Escape');
    expect(await page.locator('#panel').count()).toBe(0);
  });

  it('picks the winner after a confirmation, as `race pick` does: the bytes land in the user worktree', async () => {
    await page.locator('button.pick[data-attempt="codex"]').click();
    await page.locator('#modal').waitFor();
    expect(await page.locator('#modal').textContent()).toContain('ckpt rollback --undo');
    await page.locator('#cancel-pick').click();
    expect(await page.locator('#modal').count()).toBe(0);
    expect(fs.readFileSync(path.join(fake.dir, 'src/util.ts'), 'utf8')).toBe('export const id = <T>(x: T): T => x;\n');

    await page.locator('button.pick[data-attempt="codex"]').click();
    await page.locator('#confirm-pick').click();
    await page.locator('#pick-ok').waitFor();
    expect(await page.locator('#pick-ok').textContent()).toContain('Picked codex.');
    for (const f of ['README.md', 'src/math.ts', 'src/util.ts', 'old.txt']) {
      expect(fs.readFileSync(path.join(fake.dir, f))).toEqual(fs.readFileSync(path.join(fake.worktrees.codex!, f)));
    }
    expect(fs.existsSync(path.join(fake.dir, 'src/extra.ts'))).toBe(false); // claude's file: not taken
    await expect.poll(() => page.locator('#summary-table tr[data-attempt="codex"]').textContent()).toContain('picked');
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-picked.png') });
    expect(consoleErrors).toEqual([]);
  });

  it("shows one worktree's own checkpoints (ckpt view)", async () => {
    const v = await startViewer({ repo: await openRepo(fake.worktrees.gemini!) });
    const p = await context.newPage();
    try {
      await p.goto(v.url);
      await p.locator('#steplist a').first().waitFor();
      expect(await p.locator('#steplist a').count()).toBe(5);
      await expect.poll(() => p.locator('#stepdetail').textContent()).toContain('Changes in this step');
      expect(await p.locator('#stepdetail section.file .path').allTextContents()).toEqual(['README.md', 'old.txt']);
      await p.keyboard.press('j');
      await expect.poll(() => p.locator('#stepdetail h3').textContent()).toContain('Step 4');
      await p.screenshot({ path: path.join(ARTIFACTS, 'viewer-worktree.png') });
    } finally {
      await p.close();
      await v.close();
    }
  });

  it('opens the static report from disk, pick disabled', async () => {
    const out = path.join(ARTIFACTS, 'report.html');
    await writeReport({ repo: fake.repo, race: fake.race, out });
    const p = await context.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto('file://' + out);
    await p.waitForSelector('section.file[data-path="src/math.ts"]');
    expect(await p.locator('button.pick').first().isDisabled()).toBe(true);
    await p.keyboard.press('d');
    await p.waitForSelector('tr.hh.flash');
    expect(await p.locator('section.file.current').getAttribute('data-path')).toBe('src/math.ts');
    await p.locator('button.timeline[data-attempt="gemini"]').click();
    await p.locator('#panel ol.steps li').first().click();
    await expect.poll(() => p.locator('#panel').textContent()).toContain('Changes in this step');
    expect(errors).toEqual([]);
    await p.close();
  });
});
