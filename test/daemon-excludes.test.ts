/**
 * The daemon's watch against git's own view when what git ignores
 * changes under it: an exclude source edited while it runs
 * (`info/exclude`, `core.excludesFile`) must place watches on what it no
 * longer ignores. Each step's tree
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
    expect(lines.slice(-2).every((l) => l.includes('in process')), lines.join('\n')).toBe(true);
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
    expect(stepLines(dir).at(-1)).toContain('in process');
    // The config touched without changing what is ignored: the watch stands, the step after it is read in process again.
    git(dir, 'config', 'user.note', 'touched');
    await stepEqualsGit(dir, 'the config touched');
    write(dir, { 'out/x.txt': '3\n' });
    await stepEqualsGit(dir, 'a write after the config was touched');
    expect(stepLines(dir).at(-1)).toContain('in process');
    // Watched again once: for the new excludes file, not for the touch.
    expect(fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8').split('watched again').length - 1).toBe(1);
    expect(status(dir).status.worktrees[0]!.rescans['the ignore rules changed']).toBe(1);
  });

});
