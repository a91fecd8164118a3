/**
 * Agent states in the viewer: `GET /api/agents` (the rows of `ckpt agents
 * --json`) and the page's "agents" strip in real headless Chromium, redrawn
 * as a state changes (a wait begins, then ends); names stay text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { openRepo } from '../src/index.js';
import { recordAgentEvent } from '../src/agents/state.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { git, makeRepo, tempDir } from './support/repo.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`view-agents.test.ts: skipped, ${CHROMIUM} is absent (apt-get install chromium)`);

describe.skipIf(!haveChromium)('agent states in the viewer', () => {
  let context: BrowserContext;
  const viewers: Viewer[] = [];
  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(tempDir('ckpt-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
    });
  });
  afterAll(async () => {
    await context?.close();
    for (const v of viewers) await v.close();
  });

  it('GET /api/agents and the strip: a wait shows and stands out, then running once it ends; a hostile worktree name stays text', async () => {
    const dir = makeRepo();
    const other = path.join(tempDir(), '<img src=x onerror="window.__pwned=1">');
    git(dir, 'worktree', 'add', '-q', '-b', 'two', other);
    const repo = await openRepo(dir);
    await recordAgentEvent(dir, { agent: 'claude', kind: 'tool', tool: 'Bash', target: 'make', toolUseId: 't1', sessionId: 's', pid: process.pid });
    await recordAgentEvent(dir, { agent: 'claude', kind: 'waiting', reason: 'permission', tool: 'Bash', sessionId: 's', pid: process.pid });
    await recordAgentEvent(other, { agent: 'codex', kind: 'prompt', sessionId: 'c', pid: process.pid });
    const viewer = await startViewer({ repo });
    viewers.push(viewer);

    const res = await fetch(`http://127.0.0.1:${viewer.port}/api/agents`, { headers: { 'X-Ckpt-Token': viewer.token } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { agents: { worktree: string; status: string; statusText: string }[] };
    expect(body.agents.find((r) => r.worktree === dir)).toMatchObject({ status: 'waiting', statusText: expect.stringMatching(/^waiting for input \(permission: Bash\) since /) });
    expect((await fetch(`http://127.0.0.1:${viewer.port}/api/agents`)).status).toBe(403); // the token is required, as for every route

    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(viewer.url);
    const waiting = page.locator(`#agents .agent.waiting[data-worktree="${dir}"]`);
    await waiting.waitFor();
    expect(await waiting.locator('.state').textContent()).toMatch(/^waiting for input \(permission: Bash\) since \d\d:\d\d:\d\d$/);
    expect(await page.locator('#agents .agent.running b').textContent()).toBe(fs.realpathSync(other));
    expect(await page.locator('img').count()).toBe(0);
    // The wait ends: the strip is redrawn from the next read.
    await recordAgentEvent(dir, { agent: 'claude', kind: 'tool-done', tool: 'Bash', toolUseId: 't1', sessionId: 's', pid: process.pid });
    await page.locator(`#agents .agent.running[data-worktree="${dir}"]`).waitFor({ timeout: 30_000 });
    expect(await page.locator('#agents .agent.waiting').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });
});
