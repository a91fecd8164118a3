/**
 * The daemon's watch against git's own view when what git ignores or can
 * name changes under it: an exclude source edited while it runs
 * (`info/exclude`, `core.excludesFile`) must place watches on what it no
 * longer ignores, and a directory whose name is not UTF-8 (no text path
 * names it) must still end in steps equal to git's view. Each step's tree
 * is compared with `git add -A` + `write-tree` in a scratch index.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { daemonSnapshot, startTestDaemon as startDaemon, stopTestDaemons, testDaemonStatus as status } from './support/daemon.js';
import { git, gitView, makeRepo, write } from './support/repo.js';

afterEach(stopTestDaemons);

async function tipTree(dir: string): Promise<string> {
  return (await listSteps(await openRepo(dir)))[0]!.tree;
}

/** A step by the daemon; its tree must be git's view of the worktree now. */
async function stepEqualsGit(dir: string, what: string): Promise<void> {
  await daemonSnapshot(dir, 'manual');
  expect(await tipTree(dir), what).toBe(gitView(dir));
}

/** The daemon's log lines naming how each step was read. */
function stepLines(dir: string): string[] {
  return fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8').split('\n').filter((l) => / step \d+ /.test(l));
}

/** Read in process (by the events), or fully only because the machine was too loaded for the sync cookie: not for a reason of the worktree's. */
const IN_PROCESS = /in process|full read: the sync cookie did not arrive in time/;

describe('the daemon and the exclude sources', () => {
  it('a directory info/exclude stops ignoring while the daemon runs is watched from the next step on: every later write is in its step', async () => {
    const dir = makeRepo({ 'README.md': '# p\n' });
    fs.writeFileSync(path.join(dir, '.git/info/exclude'), 'gen/\n');
    write(dir, { 'gen/a.txt': '1\n', 'gen/deep/b.txt': 'b1\n' });
    startDaemon(dir);
    await stepEqualsGit(dir, 'gen/ ignored');
    fs.writeFileSync(path.join(dir, '.git/info/exclude'), '# nothing ignored\n');
    await stepEqualsGit(dir, 'gen/ no longer ignored: a full read');
    write(dir, { 'gen/a.txt': '2\n' });
    await stepEqualsGit(dir, 'a write into gen/ after it was un-ignored');
    write(dir, { 'gen/deep/b.txt': 'b2\n', 'gen/deep/c.txt': 'c\n' });
    await stepEqualsGit(dir, 'a write deeper in gen/');
    const lines = stepLines(dir);
    // The writes after the un-ignoring were read in process (by their events), not by a full read that would hide a missing watch.
    expect(lines.slice(-2).every((l) => IN_PROCESS.test(l)), lines.join('\n')).toBe(true);
    expect(fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8')).toContain('the ignore rules changed (the exclude sources): watched again');
  });

  it('a new core.excludesFile (relative: to the worktree top, as git reads it) that un-ignores a directory; a config touched without a change in what is ignored leaves the watch standing', async () => {
    const dir = makeRepo({ 'README.md': '# p\n', 'sub/keep.txt': 'k\n' });
    write(dir, { 'mine.ignore': 'out/\n', 'other.ignore': '*.tmp\n', 'out/x.txt': '1\n' });
    git(dir, 'config', 'core.excludesFile', 'mine.ignore');
    startDaemon(dir);
    await stepEqualsGit(dir, 'out/ ignored by the excludes file');
    const watches = (): number => status(dir).status.worktrees[0]!.watches;
    expect(watches()).toBe(2); // the top and sub/: out/ is ignored (its excludes file read from the worktree's top, not the daemon's cwd)
    git(dir, 'config', 'core.excludesFile', 'other.ignore');
    await stepEqualsGit(dir, 'another excludes file: out/ no longer ignored');
    expect(watches()).toBe(3);
    write(dir, { 'out/x.txt': '2\n', 'out/y.txt': 'y\n' });
    await stepEqualsGit(dir, 'writes into out/');
    expect(stepLines(dir).at(-1)).toMatch(IN_PROCESS);
    // The config touched without changing what is ignored: the watch stands, the step after it is read in process again.
    git(dir, 'config', 'user.note', 'touched');
    await stepEqualsGit(dir, 'the config touched');
    write(dir, { 'out/x.txt': '3\n' });
    await stepEqualsGit(dir, 'a write after the config was touched');
    expect(stepLines(dir).at(-1)).toMatch(IN_PROCESS);
    // Watched again once: for the new excludes file, not for the touch.
    expect(fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8').split('watched again').length - 1).toBe(1);
    expect(status(dir).status.worktrees[0]!.rescans['the ignore rules changed']).toBe(1);
  });

  it("core.excludesFile set in the system config (GIT_CONFIG_SYSTEM) and changed there while the daemon runs: the watch follows it", async () => {
    const dir = makeRepo({ 'README.md': '# p\n' });
    write(dir, { 'out/x.txt': '1\n' });
    const system = path.join(dir, '.git', 'system.gitconfig');
    const ignores = path.join(dir, '.git', 'system.ignore');
    fs.writeFileSync(ignores, 'out/\n');
    fs.writeFileSync(system, `[core]\n\texcludesFile = ${ignores}\n`);
    const env = { GIT_CONFIG_SYSTEM: system, GIT_CONFIG_NOSYSTEM: undefined };
    const saved = { GIT_CONFIG_SYSTEM: process.env.GIT_CONFIG_SYSTEM, GIT_CONFIG_NOSYSTEM: process.env.GIT_CONFIG_NOSYSTEM };
    // This process's git (gitView) reads the same system config as the daemon.
    process.env.GIT_CONFIG_SYSTEM = system;
    delete process.env.GIT_CONFIG_NOSYSTEM;
    try {
      startDaemon(dir, [], env);
      await stepEqualsGit(dir, 'out/ ignored by the system config');
      expect(status(dir).status.worktrees[0]!.watches).toBe(1);
      // The system config names no excludes file any more (an edit of it alone: the excludes file is not touched).
      fs.writeFileSync(system, '[core]\n\tfileMode = true\n');
      await stepEqualsGit(dir, 'out/ no longer ignored');
      expect(status(dir).status.worktrees[0]!.watches).toBe(2);
      write(dir, { 'out/x.txt': '2\n', 'out/y.txt': 'y\n' });
      await stepEqualsGit(dir, 'writes into out/');
      expect(stepLines(dir).at(-1)).toMatch(IN_PROCESS);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('a directory whose name is not UTF-8, there at the start or made later: every write in it is in the next step', async () => {
    const dir = makeRepo({ 'README.md': '# p\n' });
    const bytes = (...parts: (string | number[] | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    const old = bytes(dir, '/caf', [0xe9]);
    fs.mkdirSync(bytes(old, '/inner'), { recursive: true });
    fs.writeFileSync(bytes(old, '/f.txt'), '1\n');
    fs.writeFileSync(bytes(old, '/inner/g.txt'), 'g1\n');
    startDaemon(dir);
    await stepEqualsGit(dir, 'the start');
    fs.writeFileSync(bytes(old, '/f.txt'), '2\n');
    await stepEqualsGit(dir, 'a write in the directory of bytes');
    fs.writeFileSync(bytes(old, '/inner/g.txt'), 'g2\n');
    await stepEqualsGit(dir, 'a write below it');
    const made = bytes(dir, '/n', [0xff, 0xfe]);
    fs.mkdirSync(made);
    fs.writeFileSync(bytes(made, '/h.txt'), 'h1\n');
    await stepEqualsGit(dir, 'a directory of bytes made while watched');
    fs.writeFileSync(bytes(made, '/h.txt'), 'h2\n');
    await stepEqualsGit(dir, 'a write in it');
    fs.renameSync(old, path.join(dir, 'cafe'));
    await stepEqualsGit(dir, 'renamed to a UTF-8 name');
    write(dir, { 'cafe/f.txt': '3\n' });
    await stepEqualsGit(dir, 'a write under its new name');
    fs.rmSync(made, { recursive: true });
    await stepEqualsGit(dir, 'removed');
    write(dir, { 'README.md': '# q\n' });
    await stepEqualsGit(dir, 'a write elsewhere');
    // With no directory of bytes left, the steps are read in process again.
    expect(stepLines(dir).at(-1), stepLines(dir).join('\n')).toMatch(IN_PROCESS);
    git(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');
  });
});
