/**
 * ckpt's lock (core/owned-lock.ts: the worktree lock, the store's locks, the
 * daemon's lock) under SIGKILL at any moment: real processes that take and
 * release the lock in a tight loop are killed at random moments, and the
 * next taker gets the lock with a single try (no waiting out a stale time),
 * whatever the moment was (taking, holding, releasing, taking it over).
 * And while processes contend and die, no two ever hold it at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { acquireOwnedLock, isHeld } from '../src/core/owned-lock.js';
import { tempDir } from './support/repo.js';

/** The lock module as plain ESM for child processes (it imports only Node built-ins and process-alive.ts, which imports only Node built-ins). */
function childModule(dir: string): string {
  for (const name of ['owned-lock', 'process-alive']) {
    const src = fs.readFileSync(path.join(import.meta.dirname, '..', 'src', 'core', `${name}.ts`), 'utf8').replace("from './process-alive.js'", "from './process-alive.mjs'");
    fs.writeFileSync(path.join(dir, `${name}.mjs`), transformSync(src, { loader: 'ts', format: 'esm' }).code);
  }
  const script = path.join(dir, 'holder.mjs');
  // argv: lock path, "loop" (take and release forever), "greedy" (the same, holding it 20 ms each time)
  // or "count" (also count holders inside, to catch two at once).
  fs.writeFileSync(
    script,
    `import fs from 'node:fs';
import { acquireOwnedLock, isHeld } from './owned-lock.mjs';
const [lockPath, mode, inside] = process.argv.slice(2);
process.stdout.write('ready\\n');
for (;;) {
  const l = await acquireOwnedLock(lockPath, { waitMs: 120000 });
  if (!isHeld(l)) process.exit(3);
  if (mode === 'count') {
    // Inside: a file named after this process; any other live one beside it is a second holder.
    const me = inside + '/' + process.pid;
    fs.writeFileSync(me, '');
    for (const n of fs.readdirSync(inside)) if (n !== String(process.pid) && !fs.existsSync('/proc/' + n + '/stat')) fs.rmSync(inside + '/' + n, { force: true });
    const others = fs.readdirSync(inside).filter((n) => n !== String(process.pid));
    const live = (n) => { try { return !/\\) Z /.test(fs.readFileSync('/proc/' + n + '/stat', 'utf8')); } catch { return false; } };
    if (others.some(live)) { fs.writeFileSync(inside + '.violation', others.join(' ')); process.exit(4); }
    fs.rmSync(me);
  }
  if (mode === 'greedy') await new Promise((r) => setTimeout(r, 20));
  l.release();
}
`,
  );
  return script;
}

function startHolder(script: string, args: string[]): { child: ChildProcess; ready: Promise<void>; closed: Promise<number | null> } {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`holder exited ${code} before it was ready`)));
  });
  ready.catch(() => undefined);
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return { child, ready, closed };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('lock', () => {
  it('a lock whose holder is killed with SIGKILL at any moment of taking, holding or releasing it is taken over at once by the next one', async () => {
    const dir = tempDir();
    const script = childModule(dir);
    const lockPath = path.join(dir, 'lock');
    let leftBehind = 0;
    for (let round = 0; round < 40; round++) {
      const h = startHolder(script, [lockPath, 'loop']);
      await h.ready;
      await sleep(Math.random() * 30);
      h.child.kill('SIGKILL');
      expect(await h.closed).toBe(null);
      if (fs.existsSync(lockPath)) leftBehind++;
      // One try, no wait: a holder that is gone never makes the next one wait.
      const next = await acquireOwnedLock(lockPath, { waitMs: 0 });
      expect(isHeld(next), `round ${round}: refused, the lock holds ${fs.existsSync(lockPath) ? JSON.stringify(fs.readFileSync(lockPath, 'utf8')) : 'nothing'}`).toBe(true);
      if (isHeld(next)) next.release();
      // Nothing of the killed holder is left beside the lock once the next one has had it.
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('lock'))).toEqual([]);
    }
    console.log(`lock: 40 holders killed in their take/release loop, ${leftBehind} of them left the lock held; each was taken over with one try`);
    // The kills landed while the lock was held more than once (otherwise the test shows nothing).
    expect(leftBehind).toBeGreaterThan(0);
  }, 120_000);

  it('a lock taken after a wait longer than the stale time is fresh from its first moment: no one takes it over before its first refresh', async () => {
    const dir = tempDir();
    const lockPath = path.join(dir, 'lock');
    const staleMs = 500;
    const first = await acquireOwnedLock(lockPath, { waitMs: 0, staleMs });
    expect(isHeld(first)).toBe(true);
    // The second waits (its record written now) until the first releases, well past the stale time.
    const waiting = acquireOwnedLock(lockPath, { waitMs: 60_000, staleMs });
    await sleep(3 * staleMs);
    // A file written just before the release: its mtime comes from the same clock as the lock's.
    const mark = path.join(dir, 'released');
    fs.writeFileSync(mark, '');
    if (isHeld(first)) first.release();
    const second = await waiting;
    expect(isHeld(second)).toBe(true);
    // Its lock's mtime is the moment it was taken (after the release), not the moment its record was written (before it).
    expect(fs.statSync(lockPath).mtimeMs).toBeGreaterThanOrEqual(fs.statSync(mark).mtimeMs);
    const third = await acquireOwnedLock(lockPath, { waitMs: 0, staleMs });
    expect(isHeld(third), 'a live holder that just took the lock was taken over').toBe(false);
    if (isHeld(second)) second.release();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('lock'))).toEqual([]);
  });

  it('waiters take turns: a holder that takes the lock again the moment it releases it does not starve a waiter that polls', async () => {
    const dir = tempDir();
    const script = childModule(dir);
    const lockPath = path.join(dir, 'lock');
    // Holds the lock 20 ms, releases it and takes it again at once, as the daemon under a stream
    // of changes: the lock is free for a fraction of a millisecond at a time.
    const greedy = startHolder(script, [lockPath, 'greedy']);
    try {
      await greedy.ready;
      for (let n = 0; n < 5; n++) {
        const got = await acquireOwnedLock(lockPath, { waitMs: 5000 });
        expect(isHeld(got), `try ${n}: starved for 5 s by a holder that re-takes the lock at once`).toBe(true);
        if (isHeld(got)) got.release();
      }
    } finally {
      greedy.child.kill('SIGKILL');
      await greedy.closed;
    }
  }, 240_000);

  // The holders tell a live process from a gone one by /proc.
  it.runIf(process.platform === 'linux')('while holders contend and are killed at random, no two ever hold the lock at once, and the last one standing still gets it', async () => {
    const dir = tempDir();
    const script = childModule(dir);
    const lockPath = path.join(dir, 'lock');
    const inside = path.join(dir, 'inside');
    fs.mkdirSync(inside);
    const holders = Array.from({ length: 3 }, () => startHolder(script, [lockPath, 'count', inside]));
    for (let kill = 0; kill < 20; kill++) {
      await Promise.all(holders.map((h) => h.ready));
      await sleep(Math.random() * 40);
      const i = Math.floor(Math.random() * holders.length);
      holders[i]!.child.kill('SIGKILL');
      await holders[i]!.closed;
      expect(fs.existsSync(`${inside}.violation`), 'two processes held the lock at once').toBe(false);
      holders[i] = startHolder(script, [lockPath, 'count', inside]);
    }
    for (const h of holders) {
      h.child.kill('SIGKILL');
      await h.closed;
    }
    expect(fs.existsSync(`${inside}.violation`), 'two processes held the lock at once').toBe(false);
    const next = await acquireOwnedLock(lockPath, { waitMs: 0 });
    expect(isHeld(next)).toBe(true);
    if (isHeld(next)) next.release();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('lock'))).toEqual([]);
  }, 120_000);
});
