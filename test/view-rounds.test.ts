/**
 * The race page's rounds and reviews, in real headless Chromium: a race run for real with the
 * scripted agents (rounds: fails its check, then passes after seeing the failure; editor:
 * passes at once), a reviewer and a judge; the summary shows each attempt's rounds and
 * reviews and the judge's ranking beside ckpt's, and an attempt's timeline groups its steps
 * per round (the Round trailer), each with that round's check and reviews. The live page and
 * the static report alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import type { RaceRecord } from '../src/race/types.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { writeReport } from '../src/view/report.js';
import { openRepo, type Repo } from '../src/git/repo.js';
import { raceRepo } from './support/race.js';
import { CLI, tempDir } from './support/repo.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`view-rounds.test.ts: skipped, ${CHROMIUM} is absent (apt-get install chromium)`);

describe.skipIf(!haveChromium)('rounds and reviews on the race page (headless Chromium)', () => {
  let context: BrowserContext;
  const viewers: Viewer[] = [];
  let repo: Repo;
  let race: RaceRecord;

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(tempDir('ckpt-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
    });
    const { dir } = raceRepo();
    const plan = await planRace({ cwd: dir, task: 'make f() return 2', models: 'rounds,editor', check: `${process.execPath} check.mjs`, rounds: 2, reviewBy: 'reviewer', judge: 'judge', ckptBin: CLI });
    race = await runRace(plan, { ckptBin: CLI });
    repo = await openRepo(dir);
  }, 240_000);

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

  /** What the page must show of the race's rounds and reviews. */
  async function expectRounds(page: Page): Promise<void> {
    const row = (a: string) => page.locator(`#summary-table tr[data-attempt="${a}"]`);
    await row('rounds').waitFor();
    expect((await row('rounds').locator('td.rounds').textContent())?.replace(/\s+/g, ' ')).toBe('2: fail pass');
    expect((await row('editor').locator('td.rounds').textContent())?.replace(/\s+/g, ' ')).toBe('1: pass');
    expect(await row('rounds').locator('td.reviews .badge.review').allTextContents()).toEqual(['approved by reviewer']);
    expect(await row('editor').locator('td.reviews .badge.review').allTextContents()).toEqual(['approved by reviewer']);
    expect(await row('rounds').locator('td.reviews .badge.review').getAttribute('title')).toBe('f() returns 2 as asked.');
    // The judge beside ckpt's score.
    expect(await page.locator('#judge .judged').allTextContents()).toEqual(race.judge!.ranking.map((e, i) => `${i + 1}. ${e.attempt}`));
    expect(await page.locator('#judge').textContent()).toContain(`best stays ${race.best}`);

    // The timeline of the attempt that took two rounds: its steps per round, each with its check and review.
    await page.locator('button.timeline[data-attempt="rounds"]').click();
    const round = (k: number) => page.locator(`#panel section.round[data-round="${k}"]`);
    await round(1).waitFor();
    expect(await page.locator('#panel section.round').evaluateAll((els) => els.map((e) => e.getAttribute('data-round')))).toEqual(['2', '1']);
    const head1 = await round(1).locator('.roundhead').textContent();
    expect(head1).toContain('Round 1 of 2');
    expect(head1).toContain('check failed (1)');
    expect(await round(1).locator('.badge.review').count()).toBe(0);
    const head2 = await round(2).locator('.roundhead').textContent();
    expect(head2).toContain('Round 2 of 2');
    expect(head2).toContain('check passed');
    expect(await round(2).locator('.badge.review').allTextContents()).toEqual(['approved by reviewer']);
    // Every step of the timeline is in the group of its own round.
    const steps = (k: number) => round(k).locator('ol.steps li');
    expect(await steps(1).count()).toBeGreaterThanOrEqual(2); // base and end of round 1
    expect(await steps(2).count()).toBeGreaterThanOrEqual(2); // start and end of round 2
    expect(await steps(2).allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('round 2 of rounds')]));
    expect(await steps(1).allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('base of race')]));
    // A step still opens.
    await steps(1).first().click();
    await page.locator('#stepdetail h3').waitFor();
  }

  it('the live page shows each attempt\'s rounds, reviews and the judge, and its steps per round', async () => {
    expect(race.attempts.map((a) => [a.name, a.rounds!.map((r) => r.check?.passed)])).toEqual([
      ['rounds', [false, true]],
      ['editor', [true]],
    ]);
    const viewer = await startViewer({ repo, race });
    viewers.push(viewer);
    const { page, errors } = await open(viewer.url);
    await expectRounds(page);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the static report shows the same', async () => {
    const out = path.join(tempDir(), 'report.html');
    await writeReport({ repo, race, out });
    const { page, errors } = await open('file://' + out);
    await expectRounds(page);
    expect(errors).toEqual([]);
    await page.close();
  });
});
