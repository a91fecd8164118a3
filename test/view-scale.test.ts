/**
 * The viewer at scale: 5 attempts × 200 changed files. The comparison is
 * computed once in seconds, and the page renders file bodies lazily (only
 * those near the viewport), so it loads and navigates quickly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRaceComparison } from '../src/view/load.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { buildRace, type FakeRace } from './support/fake-race.js';
import { tempDir } from './support/repo.js';

const FILES = 200;
const LINES = 150;
const NAMES = ['claude', 'codex', 'gemini', 'aider', 'goose'];
const CHROMIUM = '/usr/bin/chromium';

function baseFile(i: number): string {
  return Array.from({ length: LINES }, (_, k) => `export const v${i}_${k} = ${k}; // line ${k + 1} of file ${i}`).join('\n') + '\n';
}

function edited(i: number, name: string): string {
  const lines = baseFile(i).split('\n');
  lines[9] = `export const v${i}_9 = 'fixed'; // shared fix`; // claude, codex, gemini, aider: the same
  if (name === 'goose') lines[9] = `export const v${i}_9 = 'other';`;
  if (name === 'gemini') lines.splice(100, 0, `// gemini's note on file ${i}`);
  if (name === 'aider' && i % 2 === 0) for (let k = 40; k < 60; k++) lines[k] = `export const v${i}_${k} = ${k * 2}; // rewritten`;
  return lines.join('\n');
}

let race: FakeRace;
beforeAll(async () => {
  const base: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) base[`src/dir${i % 10}/file${i}.ts`] = baseFile(i);
  const edits: Parameters<typeof buildRace>[2] = {};
  for (const name of NAMES) {
    const files: Record<string, string> = {};
    for (let i = 0; i < FILES; i++) files[`src/dir${i % 10}/file${i}.ts`] = edited(i, name);
    edits[name] = [{ tool: 'Write', target: 'everything', files }];
  }
  race = await buildRace('big', base, edits);
}, 180_000);

describe('5 attempts × 200 files', () => {
  it('compares everything in a few seconds', async () => {
    const t0 = performance.now();
    const cmp = await loadRaceComparison(race.repo, race.race);
    const ms = performance.now() - t0;
    expect(cmp.files).toHaveLength(FILES);
    const f = cmp.files[0]!;
    expect(f.hunks[0]!.variants.map((v) => v.attempts)).toEqual([['claude', 'codex', 'gemini', 'aider'], ['goose']]);
    expect(cmp.disagreements.length).toBeGreaterThanOrEqual(FILES * 2);
    expect(ms).toBeLessThan(10_000);
    console.log(`comparison of ${NAMES.length} attempts × ${FILES} files: ${Math.round(ms)} ms`);
  });

  describe.skipIf(!fs.existsSync(CHROMIUM))('in headless Chromium', () => {
    let viewer: Viewer;
    afterAll(async () => viewer?.close());

    it('loads fast, renders only the files near the viewport, and jumps far', async () => {
      viewer = await startViewer({ repo: race.repo, race: race.race });
      const { chromium } = await import('playwright-core');
      const context = await chromium.launchPersistentContext(tempDir('ckpt-chromium-'), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1400, height: 900 },
      });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        const t0 = performance.now();
        await page.goto(viewer.url);
        await page.locator('section.file.rendered').first().waitFor();
        const loadMs = performance.now() - t0;
        expect(await page.locator('section.file').count()).toBe(FILES);
        const rendered = await page.locator('section.file.rendered').count();
        expect(rendered).toBeLessThan(30);
        // Jump straight to the last disagreement (in the last file), then step through files.
        const t1 = performance.now();
        await page.keyboard.press('D');
        await page.waitForSelector('tr.hh.flash');
        expect(await page.locator('section.file.current').getAttribute('data-path')).toBe('src/dir9/file99.ts');
        for (let i = 0; i < 20; i++) await page.keyboard.press('k');
        const sorted = Array.from({ length: FILES }, (_, i) => `src/dir${i % 10}/file${i}.ts`).sort();
        await expect.poll(() => page.locator('section.file.current').getAttribute('data-path')).toBe(sorted[FILES - 21]);
        await page.locator('section.file.current.rendered').waitFor();
        const navMs = performance.now() - t1;
        expect(await page.locator('#navstatus').textContent()).toMatch(/disagreement \d+ of \d+/);
        expect(await page.locator('section.file.rendered').count()).toBeLessThan(FILES / 2);
        fs.mkdirSync(path.resolve(import.meta.dirname, '..', 'test-artifacts'), { recursive: true });
        await page.screenshot({ path: path.resolve(import.meta.dirname, '..', 'test-artifacts', 'viewer-scale.png') });
        console.log(`page: first render ${Math.round(loadMs)} ms, ${rendered} of ${FILES} files rendered; D to the last file + 20 × k: ${Math.round(navMs)} ms`);
        expect(loadMs).toBeLessThan(15_000);
      } finally {
        await context.close();
      }
    });
  });
});
