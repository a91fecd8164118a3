/**
 * Crash test: `ckpt rollback` killed with SIGKILL at
 * random moments. Whenever it dies, the worktree is either untouched, fully
 * rolled back, or half-way with its journal present; the next run takes the
 * lock over at once, finishes, and leaves exactly the target; git fsck is
 * clean; the index and ignored files are never touched. And `--undo` after
 * such a kill lands exactly on the state before that rollback, with none of
 * ckpt's temporary files left in the tree or recorded by any snapshot.
 * The process killed there is the CLI's own (a global option first: never
 * the daemon's client). A rollback the daemon runs for its client
 * (cli/daemon-rollback.ts): the daemon killed at random moments leaves the
 * same three states (the client says `DAEMON_FAILED`, or ran the rollback
 * itself when the daemon died before it said go), and `--undo` puts back
 * every byte; the client killed changes nothing, the daemon finishes the
 * rollback whole.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRepo, takeSnapshot } from '../src/index.js';
import { CLI, git, indexBytes, makeRepo, picture, storeGit, write, type Entry } from './support/repo.js';
import { daemonSnapshot, servedByDaemon, startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { until } from './support/wait.js';

const FILES = 300;

/** Files and links only (git stores no directories), ignored ones apart. */
function content(p: Record<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(Object.entries(p).filter(([k, v]) => v.type !== 'dir' && !k.startsWith('build/')));
}
function ignored(p: Record<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(Object.entries(p).filter(([k]) => k.startsWith('build/')));
}

function ckpt(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('crash', () => {
  it('rollback killed with SIGKILL at random moments: never half-done without a journal; the next run finishes it', async () => {
    const files: Record<string, string> = { '.gitignore': 'build/\n' };
    for (let i = 0; i < FILES; i++) files[`src/m${i % 10}/f${i}.txt`] = `original ${i}\n`;
    const dir = makeRepo(files);
    write(dir, { 'build/out.bin': 'ignored output\n', 'staged.txt': 'staged\n' });
    git(dir, 'add', 'staged.txt');
    const index0 = indexBytes(dir);
    const repo = await openRepo(dir);
    const s1 = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const p1 = content(picture(dir));
    // Step 2: every file changed, some deleted, some added, one made executable.
    const edits: Record<string, string | null> = {};
    for (let i = 0; i < FILES; i++) edits[`src/m${i % 10}/f${i}.txt`] = i % 7 === 0 ? null : `changed ${i}\n`;
    for (let i = 0; i < 30; i++) edits[`new/n${i}.txt`] = `new ${i}\n`;
    write(dir, edits);
    fs.chmodSync(path.join(dir, 'src/m1/f1.txt'), 0o755);
    const s2 = (await takeSnapshot(repo, { kind: 'auto' })).snapshot;
    const p2 = content(picture(dir));
    const ignored0 = ignored(picture(dir));
    const journal = path.join(repo.stateDir, 'journal.json');

    // How long an uninterrupted rollback takes here, to spread the kills over it.
    const t0 = Date.now();
    expect(ckpt(dir, ['rollback', s1.id]).code).toBe(0);
    const fullMs = Math.max(50, Date.now() - t0);
    expect(ckpt(dir, ['rollback', s2.id]).code).toBe(0);

    const outcomes = { untouched: 0, done: 0, halfWithJournal: 0 };
    for (let round = 0; round < 10; round++) {
      expect(content(picture(dir))).toEqual(p2);
      const delay = Math.round(((round + Math.random()) / 10) * fullMs * 1.2);
      // A global option first: the CLI rolls back in this process (the daemon's client would hand it over).
      const child = spawn(process.execPath, [CLI, '--color=never', 'rollback', s1.id], { cwd: dir, stdio: 'ignore' });
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL'); // no-op if it already finished
      await closed;
      const now = content(picture(dir));
      if (fs.existsSync(journal)) outcomes.halfWithJournal++;
      else if (JSON.stringify(now) === JSON.stringify(p2)) outcomes.untouched++;
      else {
        // No journal: the rollback must have finished entirely.
        expect(now).toEqual(p1);
        outcomes.done++;
      }
      expect(ignored(picture(dir))).toEqual(ignored0);
      expect(indexBytes(dir).equals(index0)).toBe(true);
      // The next run: takes the dead process's lock over, finishes, lands exactly on step 1.
      const again = ckpt(dir, ['rollback', s1.id]);
      expect(again.code, again.stderr).toBe(0);
      expect(content(picture(dir))).toEqual(p1);
      expect(fs.existsSync(journal)).toBe(false);
      expect(ignored(picture(dir))).toEqual(ignored0);
      expect(indexBytes(dir).equals(index0)).toBe(true);
      git(dir, 'fsck', '--no-dangling', '--no-progress');
      // Back to step 2 for the next round.
      expect(ckpt(dir, ['rollback', s2.id]).code).toBe(0);
    }
    console.log(`crash: 10 kills over a ${fullMs} ms rollback: ${outcomes.untouched} before it changed anything, ${outcomes.halfWithJournal} half-way (journal), ${outcomes.done} after it finished`);
    // No lock left behind once all is done.
    expect(fs.existsSync(path.join(repo.stateDir, 'lock'))).toBe(false);
  }, 300_000);

  it('rollback killed with SIGKILL, then --undo: back to the pre-rollback state byte for byte; no temp file is left or ever recorded', async () => {
    const files: Record<string, string> = { '.gitignore': 'build/\n' };
    for (let i = 0; i < FILES; i++) files[`src/m${i % 10}/f${i}.txt`] = `original ${i}\n`;
    const dir = makeRepo(files);
    write(dir, { 'build/out.bin': 'ignored output\n', 'staged.txt': 'staged\n' });
    git(dir, 'add', 'staged.txt');
    const index0 = indexBytes(dir);
    const head0 = git(dir, 'rev-parse', 'HEAD');
    const repo = await openRepo(dir);
    const s1 = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const p1 = content(picture(dir));
    const edits: Record<string, string | null> = {};
    for (let i = 0; i < FILES; i++) edits[`src/m${i % 10}/f${i}.txt`] = i % 7 === 0 ? null : `changed ${i}\n`;
    for (let i = 0; i < 30; i++) edits[`new/n${i}.txt`] = `new ${i}\n`;
    write(dir, edits);
    const s2 = (await takeSnapshot(repo, { kind: 'auto' })).snapshot;
    const p2 = content(picture(dir));
    const ignored0 = ignored(picture(dir));
    const journal = path.join(repo.stateDir, 'journal.json');
    const tempNames = (p: Record<string, Entry>): string[] => Object.keys(p).filter((k) => /\.ckpt-\d+-[0-9a-z]+\.tmp$/.test(k));

    const t0 = Date.now();
    expect(ckpt(dir, ['rollback', s1.id]).code).toBe(0);
    const fullMs = Math.max(50, Date.now() - t0);
    expect(ckpt(dir, ['rollback', s2.id]).code).toBe(0);

    const outcomes = { untouched: 0, done: 0, halfWithJournal: 0 };
    // States a pre-rollback snapshot holds: p1 and p2, and the half-way state of each
    // interrupted rollback (its --undo records the live state before putting back).
    const recorded = [JSON.stringify(p1), JSON.stringify(p2)];
    for (let round = 0; round < 10; round++) {
      expect(content(picture(dir))).toEqual(p2);
      const delay = Math.round(((round + Math.random()) / 10) * fullMs * 1.2);
      // A global option first: the CLI rolls back in this process (the daemon's client would hand it over).
      const child = spawn(process.execPath, [CLI, '--color=never', 'rollback', s1.id], { cwd: dir, stdio: 'ignore' });
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await closed;
      // A journal that says nothing is recorded yet: killed before the pre-rollback snapshot, so before any change.
      const unrecorded = fs.existsSync(journal) && (JSON.parse(fs.readFileSync(journal, 'utf8')) as { recorded?: boolean }).recorded === false;
      const half = fs.existsSync(journal) && !unrecorded;
      const now = content(picture(dir));
      const kind = half ? 'halfWithJournal' : JSON.stringify(now) === JSON.stringify(p2) ? 'untouched' : 'done';
      outcomes[kind]++;
      if (half) recorded.push(JSON.stringify(now));
      if (unrecorded) {
        expect(now).toEqual(p2);
        // --undo refuses once, naming the interrupted rollback, rather than undoing an older one.
        const refused = ckpt(dir, ['rollback', '--undo']);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toMatch(/stopped before it changed anything/);
        expect(content(picture(dir))).toEqual(p2);
      }
      const undo = ckpt(dir, ['rollback', '--undo']);
      expect(undo.code, undo.stderr).toBe(0);
      const after = content(picture(dir));
      // Half-way or finished: --undo returns exactly to the state before that rollback.
      // Killed before its journal: --undo undoes that rollback (nothing to change) or, when it died before
      // recording anything, the previous one (after a half-way round: the state that round's --undo recorded):
      // either way a recorded state, never one half-written by this rollback.
      if (kind === 'untouched') expect(recorded).toContain(JSON.stringify(after));
      else expect(after).toEqual(p2);
      expect(tempNames(picture(dir))).toEqual([]);
      expect(fs.existsSync(journal)).toBe(false);
      expect(ignored(picture(dir))).toEqual(ignored0);
      expect(indexBytes(dir).equals(index0)).toBe(true);
      expect(git(dir, 'rev-parse', 'HEAD')).toBe(head0);
      expect(ckpt(dir, ['rollback', s2.id]).code).toBe(0);
    }
    // No snapshot of the chain ever recorded one of ckpt's temporary files.
    for (const id of storeGit(dir, 'rev-list', '--first-parent', repo.ref).trim().split('\n').slice(0, -1)) {
      const names = storeGit(dir, 'ls-tree', '-r', '--name-only', id).split('\n');
      expect(names.filter((n) => /\.ckpt-\d+-[0-9a-z]+\.tmp$/.test(n))).toEqual([]);
    }
    git(dir, 'fsck', '--no-dangling', '--no-progress');
    console.log(`crash+undo: 10 kills over a ${fullMs} ms rollback: ${outcomes.untouched} before it changed anything, ${outcomes.halfWithJournal} half-way (journal), ${outcomes.done} after it finished; --undo exact every time`);
  }, 300_000);

  // The direct project (CKPT_NO_DAEMON=1) has no daemon to run it.
  describe.skipIf(process.env.CKPT_NO_DAEMON === '1')('a rollback the daemon runs for its client', () => {
    afterEach(() => stopTestDaemons());
    // No daemon started by a rollback on its own here: each round starts the one it kills.
    const noStart = { CKPT_DAEMON_AUTOSTART: '0' };
    const setup = async (): Promise<{ dir: string; s1: number; s2: number; p1: Record<string, Entry>; p2: Record<string, Entry>; index0: Buffer; head0: string; journal: string; lock: string }> => {
      const files: Record<string, string> = { '.gitignore': 'build/\n' };
      for (let i = 0; i < FILES; i++) files[`src/m${i % 10}/f${i}.txt`] = `original ${i}\n`;
      const dir = makeRepo(files);
      write(dir, { 'build/out.bin': 'ignored output\n', 'staged.txt': 'staged\n' });
      git(dir, 'add', 'staged.txt');
      startTestDaemon(dir);
      const s1 = await daemonSnapshot(dir, 'manual');
      const p1 = content(picture(dir));
      const edits: Record<string, string | null> = {};
      for (let i = 0; i < FILES; i++) edits[`src/m${i % 10}/f${i}.txt`] = i % 7 === 0 ? null : `changed ${i}\n`;
      for (let i = 0; i < 30; i++) edits[`new/n${i}.txt`] = `new ${i}\n`;
      write(dir, edits);
      const s2 = await daemonSnapshot(dir, 'auto');
      const repo = await openRepo(dir);
      return { dir, s1, s2, p1, p2: content(picture(dir)), index0: indexBytes(dir), head0: git(dir, 'rev-parse', 'HEAD'), journal: path.join(repo.stateDir, 'journal.json'), lock: path.join(repo.stateDir, 'lock') };
    };
    /** Runs `ckpt rollback STEP` through the daemon once, untimed but for how long it took (ms). */
    const timedRun = (dir: string, step: number): number => {
      const before = servedByDaemon(dir);
      const t0 = Date.now();
      const r = ckpt(dir, ['rollback', String(step)], noStart);
      expect(r.code, r.stderr).toBe(0);
      expect(servedByDaemon(dir)).toBe(before + 1);
      return Math.max(50, Date.now() - t0);
    };

    it('the daemon killed with SIGKILL at random moments: untouched, whole, or half-way with its journal; --undo puts back every byte', async () => {
      const { dir, s1, s2, p1, p2, index0, head0, journal } = await setup();
      const fullMs = timedRun(dir, s1);
      timedRun(dir, s2);
      const outcomes = { untouched: 0, done: 0, halfWithJournal: 0, lost: 0 };
      for (let round = 0; round < 8; round++) {
        expect(content(picture(dir))).toEqual(p2);
        const pid = round === 0 ? Number(JSON.parse(fs.readFileSync(path.join(dir, '.git', 'ckpt', 'daemon', 'daemon.json'), 'utf8')).pid) : startTestDaemon(dir);
        const delay = Math.round(((round + Math.random()) / 8) * fullMs);
        const child = spawn(process.execPath, [CLI, 'rollback', String(s1)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CKPT_DAEMON_AUTOSTART: '0' } });
        let stderr = '';
        child.stderr.on('data', (c) => (stderr += c));
        const closed = new Promise<number>((r) => child.once('close', (code) => r(code ?? -1)));
        await new Promise((r) => setTimeout(r, delay));
        process.kill(pid, 'SIGKILL');
        const code = await closed;
        // The client ends with the rollback done (by the daemon, or by itself when the daemon died before it said go) or says the daemon was lost.
        if (code !== 0) {
          expect(code, stderr).toBe(4);
          expect(stderr).toMatch(/the ckpt daemon ended while it ran the rollback/);
          outcomes.lost++;
        }
        const now = content(picture(dir));
        const unrecorded = fs.existsSync(journal) && (JSON.parse(fs.readFileSync(journal, 'utf8')) as { recorded?: boolean }).recorded === false;
        const kind = fs.existsSync(journal) && !unrecorded ? 'halfWithJournal' : JSON.stringify(now) === JSON.stringify(p2) ? 'untouched' : 'done';
        if (kind === 'done') expect(now).toEqual(p1);
        if (kind === 'untouched' || unrecorded) expect(now).toEqual(p2);
        outcomes[kind]++;
        expect(indexBytes(dir).equals(index0)).toBe(true);
        // Half-way or whole: --undo returns to the state before it, byte for byte (the pre-rollback snapshot holds it).
        if (kind !== 'untouched') {
          const undo = ckpt(dir, ['rollback', '--undo'], noStart);
          expect(undo.code, undo.stderr).toBe(0);
          expect(content(picture(dir))).toEqual(p2);
        } else if (unrecorded) {
          // Killed before it recorded anything: the next run ends it (nothing to put back).
          expect(ckpt(dir, ['rollback', String(s2)], noStart).code).toBe(0);
        }
        expect(fs.existsSync(journal)).toBe(false);
        expect(indexBytes(dir).equals(index0)).toBe(true);
        expect(git(dir, 'rev-parse', 'HEAD')).toBe(head0);
      }
      git(dir, 'fsck', '--no-dangling', '--no-progress');
      console.log(`crash (daemon): 8 kills of the daemon over a ${fullMs} ms rollback: ${outcomes.untouched} before it changed anything, ${outcomes.halfWithJournal} half-way (journal), ${outcomes.done} after it finished; the client reported ${outcomes.lost} lost`);
    }, 300_000);

    it('the client killed with SIGKILL at random moments: the daemon finishes the rollback whole, or never began it', async () => {
      const { dir, s1, s2, p1, p2, index0, journal, lock } = await setup();
      const fullMs = timedRun(dir, s1);
      timedRun(dir, s2);
      const outcomes = { untouched: 0, done: 0 };
      for (let round = 0; round < 8; round++) {
        expect(content(picture(dir))).toEqual(p2);
        const delay = Math.round(((round + Math.random()) / 8) * fullMs);
        const child = spawn(process.execPath, [CLI, 'rollback', String(s1)], { cwd: dir, stdio: 'ignore', env: { ...process.env, CKPT_DAEMON_AUTOSTART: '0' } });
        const closed = new Promise((r) => child.once('close', r));
        await new Promise((r) => setTimeout(r, delay));
        child.kill('SIGKILL');
        await closed;
        // Whatever the daemon began, it ends: no rollback request in it (counted from the request read to its reply, so not
        // between the go-ahead and the worktree lock either), then the lock and the journal gone. A request the daemon had
        // not read yet when the client died never had its go-ahead: it changes nothing.
        await until(() => testDaemonStatus(dir).status.rollbacksRunning === 0 && !fs.existsSync(lock) && !fs.existsSync(journal), 'the daemon to end the rollback');
        const now = content(picture(dir));
        if (JSON.stringify(now) === JSON.stringify(p2)) outcomes.untouched++;
        else {
          expect(now).toEqual(p1);
          outcomes.done++;
          expect(ckpt(dir, ['rollback', String(s2)], noStart).code).toBe(0);
        }
        expect(indexBytes(dir).equals(index0)).toBe(true);
      }
      console.log(`crash (client): 8 kills of the client over a ${fullMs} ms rollback: ${outcomes.untouched} before the daemon began, ${outcomes.done} finished by the daemon`);
    }, 300_000);
  });
});
