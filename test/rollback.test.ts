/**
 * Rollback against real git: byte-exact round trips (mutate, roll back,
 * compare; undo, compare), and every refusal leaves everything as it was.
 *
 * The round trips and the check at the point of destruction run twice: with
 * git reading the worktree (the direct path), and through a running daemon
 * (its snapshots taken from its dirty set, the rollback's reads asked of it:
 * watch/daemon-reader.ts), which must give the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRepo, takeSnapshot, rollback as rollbackDirect, listSteps, type Repo, type RollbackOptions } from '../src/index.js';
import type { WorktreeReader } from '../src/snapshot/reader.js';
import { daemonReader } from '../src/watch/daemon-reader.js';
import { spawnSync } from 'node:child_process';
import { daemonSnapshot, startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { CLI, git, gitView, indexBytes, makeRepo as makeRepoDirect, picture, storeDir, storeGit, tempDir, userRefs, write } from './support/repo.js';

afterEach(() => stopTestDaemons());

type Mode = 'git' | 'daemon';

/**
 * The helpers of one mode: `daemon` starts a daemon for every repository
 * made, takes `snap`s through it, and gives every rollback its reader.
 */
function through(mode: Mode) {
  return {
    makeRepo: (...args: Parameters<typeof makeRepoDirect>): string => {
      const dir = makeRepoDirect(...args);
      if (mode === 'daemon') startTestDaemon(dir);
      return dir;
    },
    snap: async (repo: Repo, kind: 'auto' | 'manual' | 'after' = 'auto'): Promise<number> => (mode === 'daemon' ? daemonSnapshot(repo.worktree, kind) : snap(repo, kind)),
    rollback: (repo: Repo, opts: RollbackOptions = {}) => rollbackDirect(repo, mode === 'daemon' ? { ...opts, reader: opts.reader ?? daemonReader(repo) } : opts),
  };
}
/** The readers tested: on the direct path (`CKPT_NO_DAEMON=1`, vitest project `direct`) git alone; the daemon's variants run in project `daemon`. */
const MODES: Mode[] = process.env.CKPT_NO_DAEMON === '1' ? ['git'] : ['git', 'daemon'];
const rollback = rollbackDirect;
const makeRepo = makeRepoDirect;

async function snap(repo: Repo, kind: 'auto' | 'manual' | 'after' = 'auto'): Promise<number> {
  return (await takeSnapshot(repo, { kind, force: true })).snapshot.step;
}

/** Everything of the user's that a rollback must leave alone. */
function userState(dir: string): { index: string; refs: string } {
  return { index: indexBytes(dir).toString('base64'), refs: userRefs(dir) };
}

describe.each<Mode>(MODES)('rollback (read by %s)', (mode) => {
  const { makeRepo, snap, rollback } = through(mode);
  it('round trip: a step with edits, new files, deletions, modes, symlinks and file/dir swaps, then undo', async () => {
    const dir = makeRepo({
      '.gitignore': 'node_modules/\n.env\nbuild/\n',
      'src/a.ts': 'a\n',
      'src/b.ts': 'b\n',
      'run.sh': '#!/bin/sh\n',
      'was-file': 'I become a directory\n',
      'was-dir/x.txt': 'I become a file\n',
      'link': 'placeholder',
    });
    fs.rmSync(path.join(dir, 'link'));
    fs.symlinkSync('src/a.ts', path.join(dir, 'link'));
    write(dir, { 'node_modules/pkg/index.js': 'ignored\n', '.env': 'SECRET=1\n', 'build/out.js': 'built\n', 'untracked.txt': 'u\n' });
    fs.mkdirSync(path.join(dir, 'empty-before'));
    write(dir, { 'staged.txt': 'staged\n' });
    git(dir, 'add', 'staged.txt');
    const repo = await openRepo(dir);
    const base = await snap(repo, 'manual');
    const before = picture(dir);
    const user0 = userState(dir);

    // The agent's step.
    write(dir, { 'src/a.ts': 'a changed\n', 'src/new/deep/file.ts': 'new\n', 'untracked.txt': null, 'src/b.ts': null });
    fs.chmodSync(path.join(dir, 'run.sh'), 0o755);
    fs.rmSync(path.join(dir, 'link'));
    fs.symlinkSync('../elsewhere', path.join(dir, 'link'));
    fs.rmSync(path.join(dir, 'was-file'));
    write(dir, { 'was-file/inside.txt': 'now a dir\n' });
    fs.rmSync(path.join(dir, 'was-dir'), { recursive: true });
    write(dir, { 'was-dir': 'now a file\n', 'node_modules/pkg/index.js': 'ignored, changed by npm\n' });
    const step = await snap(repo, 'after');
    const after = picture(dir);

    const res = await rollback(repo, { target: String(base) });
    expect(res.target.step).toBe(base);
    expect(res.readBy).toBe(mode);
    const expected = { ...before, 'node_modules/pkg/index.js': after['node_modules/pkg/index.js'] };
    expect(picture(dir)).toEqual(expected); // ignored file: as the agent left it, never rolled back
    expect(userState(dir)).toEqual(user0);
    expect(fs.existsSync(path.join(dir, 'empty-before'))).toBe(true);
    expect(res.changes.map((c) => `${c.action} ${c.path}`)).toEqual(
      expect.arrayContaining(['write src/a.ts', 'write src/b.ts', 'delete src/new/deep/file.ts', 'mode run.sh', 'link link', 'write was-file', 'write was-dir/x.txt']),
    );
    expect(res.removedDirs).toEqual(expect.arrayContaining(['src/new/deep', 'src/new']));

    const undo = await rollback(repo, { undo: true });
    expect(undo.changes.length).toBeGreaterThan(0);
    expect(undo.readBy).toBe(mode);
    expect(picture(dir)).toEqual(after);
    expect(userState(dir)).toEqual(user0);

    // and the undo is undoable
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(expected);
    const kinds = (await listSteps(repo)).map((s) => s.kind);
    expect(kinds.slice(0, 6)).toEqual(['rollback', 'pre-rollback', 'rollback', 'pre-rollback', 'rollback', 'pre-rollback']);
    expect(step).toBe(base + 1);
  });

  it('restores single paths only', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'dir/b.txt': 'b\n', 'dir/c.txt': 'c\n' });
    const repo = await openRepo(dir);
    await snap(repo);
    write(dir, { 'a.txt': 'A\n', 'dir/b.txt': 'B\n', 'dir/c.txt': 'C\n', 'dir/new.txt': 'new\n' });
    await snap(repo);
    const res = await rollback(repo, { target: '1', paths: ['dir/b.txt'] });
    expect(res.changes.map((c) => c.path)).toEqual(['dir/b.txt']);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('A\n');
    expect(fs.readFileSync(path.join(dir, 'dir/b.txt'), 'utf8')).toBe('b\n');
    expect(fs.readFileSync(path.join(dir, 'dir/c.txt'), 'utf8')).toBe('C\n');
    // a directory path: everything under it
    await rollback(repo, { target: '1', paths: ['dir'] });
    expect(fs.readFileSync(path.join(dir, 'dir/c.txt'), 'utf8')).toBe('c\n');
    expect(fs.existsSync(path.join(dir, 'dir/new.txt'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('A\n');
    // undo restores exactly the paths of that rollback
    await rollback(repo, { undo: true });
    expect(fs.readFileSync(path.join(dir, 'dir/new.txt'), 'utf8')).toBe('new\n');
    expect(fs.readFileSync(path.join(dir, 'dir/b.txt'), 'utf8')).toBe('b\n');
    await expect(rollback(repo, { target: '1', paths: ['no/such/file'] })).rejects.toMatchObject({ code: 'PATH_NOT_FOUND' });
  });

  it('refuses, changing nothing, when an ignored file sits in a directory that must become a file', async () => {
    const dir = makeRepo({ '.gitignore': '*.log\n', 'out': 'I was a file\n' });
    const repo = await openRepo(dir);
    await snap(repo);
    fs.rmSync(path.join(dir, 'out'));
    write(dir, { 'out/result.txt': 'r\n', 'out/debug.log': 'ignored log the user wants\n' });
    await snap(repo);
    const pic = picture(dir);
    const user0 = userState(dir);
    const steps0 = (await listSteps(repo)).length;
    await expect(rollback(repo, { target: '1' })).rejects.toMatchObject({ code: 'ROLLBACK_WOULD_CLOBBER' });
    expect(picture(dir)).toEqual(pic);
    expect(userState(dir)).toEqual(user0);
    // the refused rollback recorded its pre-rollback snapshot only; nothing else moved
    expect((await listSteps(repo)).length).toBeLessThanOrEqual(steps0 + 1);
    // dry run says the same
    await expect(rollback(repo, { target: '1', dryRun: true })).rejects.toMatchObject({ code: 'ROLLBACK_WOULD_CLOBBER' });
  });

  it('never writes through a symlinked directory', async () => {
    const dir = makeRepo({ 'lib/x.txt': 'x\n' });
    const outside = tempDir();
    const repo = await openRepo(dir);
    await snap(repo);
    fs.rmSync(path.join(dir, 'lib'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, 'lib'));
    await snap(repo);
    // the link is part of the snapshot: rolling back replaces the link, never writes into `outside`
    await rollback(repo, { target: '1' });
    expect(fs.lstatSync(path.join(dir, 'lib')).isDirectory()).toBe(true);
    expect(fs.readdirSync(outside)).toEqual([]);
    // an ignored symlink in the way is refused
    const dir2 = makeRepo({ '.gitignore': 'cache\n', 'keep.txt': 'k' });
    const repo2 = await openRepo(dir2);
    write(dir2, { 'cache/data.txt': 'd' });
    git(dir2, 'add', '-f', 'cache/data.txt'); // tracked though ignored: captured
    await snap(repo2);
    git(dir2, 'rm', '-q', '--cached', 'cache/data.txt');
    fs.rmSync(path.join(dir2, 'cache'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir2, 'cache'));
    await snap(repo2);
    await expect(rollback(repo2, { target: '1' })).rejects.toMatchObject({ code: 'ROLLBACK_WOULD_CLOBBER' });
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('removes only directories it emptied itself', async () => {
    const dir = makeRepo({ 'keep.txt': 'k' });
    fs.mkdirSync(path.join(dir, 'user-empty'));
    const repo = await openRepo(dir);
    await snap(repo);
    write(dir, { 'gen/a/b.txt': 'b', 'mixed/new.txt': 'n', 'mixed/.cache-ignored': 'x' });
    fs.writeFileSync(path.join(dir, '.git', 'info', 'exclude'), '.cache-ignored\n');
    fs.mkdirSync(path.join(dir, 'gen', 'empty-made-by-agent'));
    await snap(repo);
    const res = await rollback(repo, { target: '1' });
    expect(fs.existsSync(path.join(dir, 'user-empty'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'gen', 'a'))).toBe(false);
    // gen/ still holds an empty directory ckpt did not empty: gen stays
    expect(fs.existsSync(path.join(dir, 'gen', 'empty-made-by-agent'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'mixed', '.cache-ignored'), 'utf8')).toBe('x');
    expect(res.removedDirs).toEqual(['gen/a']);
  });

  it('keeps files the target ignores, even after the agent edited .gitignore', async () => {
    // build/ is ignored at step 1; the agent un-ignores it, so step 2 captures build/out.js.
    const dir = makeRepo({ '.gitignore': 'build/\n', 'a.txt': 'a' });
    write(dir, { 'build/out.js': 'user build output\n' });
    const repo = await openRepo(dir);
    await snap(repo);
    fs.writeFileSync(path.join(dir, '.gitignore'), '');
    write(dir, { 'a.txt': 'agent' });
    await snap(repo);
    const res = await rollback(repo, { target: '1' });
    expect(fs.readFileSync(path.join(dir, 'build/out.js'), 'utf8')).toBe('user build output\n');
    expect(res.kept).toEqual(['build/out.js']);
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('build/\n');

    // The other way: a file captured at step 1 is ignored later and changed: never overwritten.
    const dir2 = makeRepo({ 'a.txt': 'a' });
    write(dir2, { 'notes.txt': 'v1\n' });
    const repo2 = await openRepo(dir2);
    await snap(repo2);
    fs.writeFileSync(path.join(dir2, '.gitignore'), 'notes.txt\n');
    write(dir2, { 'notes.txt': 'v2, now ignored, the user cares\n' });
    await snap(repo2);
    await expect(rollback(repo2, { target: '1' })).rejects.toMatchObject({ code: 'ROLLBACK_WOULD_CLOBBER' });
    expect(fs.readFileSync(path.join(dir2, 'notes.txt'), 'utf8')).toBe('v2, now ignored, the user cares\n');
  });

  it('resolves targets: step, -N, id, --to time, and by default the last agent step', async () => {
    const dir = makeRepo({ 'f.txt': '0' });
    const repo = await openRepo(dir);
    await snap(repo, 'manual'); // 1
    for (let i = 1; i <= 3; i++) {
      write(dir, { 'f.txt': String(i) });
      await snap(repo, 'after'); // 2, 3, 4
    }
    const read = (): string => fs.readFileSync(path.join(dir, 'f.txt'), 'utf8');
    await rollback(repo, {});
    expect(read()).toBe('2'); // the state before the last agent step
    await rollback(repo, { undo: true });
    expect(read()).toBe('3');
    await rollback(repo, { target: '2' });
    expect(read()).toBe('1');
    await rollback(repo, { undo: true });
    const steps = await listSteps(repo);
    await rollback(repo, { target: steps.find((s) => s.step === 1)!.id.slice(0, 8) });
    expect(read()).toBe('0');
    await rollback(repo, { target: '-1' }); // the snapshot before the newest
    await rollback(repo, { to: 'now' });
    await expect(rollback(repo, { to: '10 years ago' })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await expect(rollback(repo, { to: 'yesterday-ish' })).rejects.toMatchObject({ code: 'INVALID_DURATION' });
    await expect(rollback(repo, { target: '99' })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await expect(rollback(repo, { target: 'deadbeef' })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await expect(rollback(repo, { target: git(dir, 'rev-parse', 'HEAD').trim() })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
  });

  it('dry run changes nothing and records nothing', async () => {
    const dir = makeRepo({ 'f.txt': 'a' });
    const repo = await openRepo(dir);
    await snap(repo);
    write(dir, { 'f.txt': 'b', 'g.txt': 'g' });
    await snap(repo);
    const pic = picture(dir);
    const n = (await listSteps(repo)).length;
    const res = await rollback(repo, { target: '1', dryRun: true });
    expect(res.changes.map((c) => `${c.action} ${c.path}`)).toEqual(['write f.txt', 'delete g.txt']);
    expect(res.preRollback).toBeNull();
    expect(picture(dir)).toEqual(pic);
    expect((await listSteps(repo)).length).toBe(n);
  });

  it('refuses a snapshot tree with hostile entries before writing anything', async () => {
    const dir = makeRepo({ 'f.txt': 'a' });
    const repo = await openRepo(dir);
    await snap(repo);
    // Forge a snapshot whose tree holds ".git/hooks/post-checkout" and "..".
    const evilBlob = execGit(dir, ['hash-object', '-w', '--stdin'], '#!/bin/sh\necho pwned\n');
    const hooks = mktree(dir, `100755 blob ${evilBlob}\tpost-checkout\n`);
    const dotgit = mktree(dir, `040000 tree ${hooks}\thooks\n`);
    const root = mktree(dir, `040000 tree ${dotgit}\t.GIT\n100644 blob ${evilBlob}\tf.txt\n`);
    const tip = (await listSteps(repo))[0]!;
    const msg = storeGit(dir, 'cat-file', 'commit', tip.id).split('\n\n').slice(1).join('\n\n').replace('Step: 1', 'Step: 2');
    const forged = execGit(dir, ['commit-tree', root, '-p', tip.id, '-p', storeGit(dir, 'rev-parse', `${tip.id}^1`).trim()], msg);
    storeGit(dir, 'update-ref', repo.ref, forged);
    const pic = picture(dir);
    await expect(rollback(repo, { target: '2' })).rejects.toMatchObject({ code: 'HOSTILE_TREE' });
    expect(picture(dir)).toEqual(pic);
    expect(fs.existsSync(path.join(dir, '.git', 'hooks', 'post-checkout'))).toBe(false);
  });

  it('finishes a rollback interrupted mid-way (journal) on the next run', async () => {
    const dir = makeRepo({ 'a.txt': 'a', 'b.txt': 'b' });
    const repo = await openRepo(dir);
    await snap(repo);
    write(dir, { 'a.txt': 'A', 'b.txt': 'B' });
    await snap(repo);
    const before = picture(dir);
    // Simulate a crash: pre-rollback recorded, journal written, only a.txt restored.
    const pre = (await takeSnapshot(repo, { kind: 'pre-rollback', force: true })).snapshot;
    const target = (await listSteps(repo)).find((s) => s.step === 1)!;
    fs.writeFileSync(path.join(repo.stateDir, 'journal.json'), JSON.stringify({ version: 1, target: target.id, preRollback: pre.id, paths: null, startedAt: Date.now() }));
    write(dir, { 'a.txt': 'a' });
    // After the crash, before anyone notices, b.txt is edited again: that edit is in no snapshot.
    write(dir, { 'b.txt': 'edited after the crash' });
    const afterCrash = picture(dir);
    // A dry run ends nothing: it says what the real command would do first, and changes no byte.
    const tip0 = (await listSteps(repo))[0]!.id;
    const dry = await rollback(repo, { target: '1', dryRun: true });
    expect(dry.recovered).toBe(false);
    expect(dry.interrupted).toMatchObject({ label: 'rollback to step 1', action: 'finish', changes: [{ path: 'b.txt', action: 'write' }] });
    expect(picture(dir)).toEqual(afterCrash);
    expect(fs.existsSync(path.join(repo.stateDir, 'journal.json'))).toBe(true);
    expect((await listSteps(repo))[0]!.id).toBe(tip0);
    const res = await rollback(repo, { target: '1' });
    expect(res.recovered).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('b');
    expect(fs.existsSync(path.join(repo.stateDir, 'journal.json'))).toBe(false);
    // The post-crash edit was recorded before being overwritten: undo brings it back…
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(afterCrash);
    // …and what the interrupted rollback replaced is still there to go back to.
    await rollback(repo, { target: String(pre.step) });
    expect(picture(dir)).toEqual(before);
  });

  it('--undo --dry-run of an interrupted rollback changes nothing and says it would put back; the real --undo then returns to the state before it, byte for byte; status and the CLI say it is pending', async () => {
    const dir = makeRepo({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
    const repo = await openRepo(dir);
    await snap(repo);
    write(dir, { 'a.txt': 'A', 'b.txt': 'B', 'c.txt': null });
    await snap(repo);
    const before = picture(dir);
    const user0 = userState(dir);
    // A crash half-way: pre-rollback recorded, journal written, a.txt restored only.
    const pre = (await takeSnapshot(repo, { kind: 'pre-rollback', force: true })).snapshot;
    const target = (await listSteps(repo)).find((s) => s.step === 1)!;
    fs.writeFileSync(path.join(repo.stateDir, 'journal.json'), JSON.stringify({ version: 2, label: 'rollback to step 1', tree: target.tree, target: target.id, preRollback: pre.id, undoTo: { tree: pre.tree, snapshot: pre.id }, paths: null, writes: [], startedAt: Date.now() }));
    write(dir, { 'a.txt': 'a' });
    const half = picture(dir);
    const tip0 = (await listSteps(repo))[0]!.id;
    const dry = await rollback(repo, { undo: true, dryRun: true });
    expect(dry.interrupted).toMatchObject({ action: 'undo', label: 'rollback to step 1' });
    expect(dry.changes).toEqual([{ path: 'a.txt', action: 'write', from: '100644', to: '100644' }]);
    expect(dry.target.id).toBe(pre.id);
    expect(picture(dir)).toEqual(half);
    expect((await listSteps(repo))[0]!.id).toBe(tip0);
    // The CLI: the dry runs say so and change nothing; status mentions it.
    const run = (args: string[]): { code: number | null; out: string } => {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      return { code: r.status, out: r.stdout + r.stderr };
    };
    const cliDry = run(['rollback', '1', '--dry-run']);
    expect(cliDry.code, cliDry.out).toBe(0);
    expect(cliDry.out).toMatch(/an interrupted rollback to step 1 is pending \(left as it is\): the real command would first finish it/);
    expect(cliDry.out).toContain('(dry run: nothing changed)');
    expect(cliDry.out).not.toContain('was ended first');
    const cliUndo = run(['rollback', '--undo', '--dry-run']);
    expect(cliUndo.code, cliUndo.out).toBe(0);
    expect(cliUndo.out).toMatch(/would first put back the state before it/);
    const st = run(['status']);
    expect(st.out).toMatch(/an interrupted rollback to step 1 is pending/);
    expect(picture(dir)).toEqual(half);
    expect(fs.existsSync(path.join(repo.stateDir, 'journal.json'))).toBe(true);
    expect((await listSteps(repo))[0]!.id).toBe(tip0);
    // The real --undo acts on the interrupted rollback: back to the state before it.
    const undo = await rollback(repo, { undo: true });
    expect(undo.recovered).toBe(true);
    expect(picture(dir)).toEqual(before);
    expect(userState(dir)).toEqual(user0);
    expect(fs.existsSync(path.join(repo.stateDir, 'journal.json'))).toBe(false);
    expect(run(['status']).out).not.toMatch(/interrupted/);
  });

  it('--undo after a rollback killed before it recorded anything refuses (naming it) instead of undoing the older rollback; the next --undo undoes that one', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    const s1 = await snap(repo);
    write(dir, { 'a.txt': 'A\n', 'new.txt': 'n\n' });
    const s2 = await snap(repo);
    const edited = picture(dir);
    await rollback(repo, { target: String(s1) });
    const rolled = picture(dir);
    const journal = path.join(repo.stateDir, 'journal.json');
    await rollback(repo, { target: String(s2) });
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(rolled);
    // A rollback to step 2 killed before its pre-rollback snapshot: its journal (written first) says nothing is recorded.
    const target = (await listSteps(repo)).find((s) => s.step === s2)!;
    fs.writeFileSync(journal, JSON.stringify({ version: 2, label: `rollback to step ${s2}`, tree: target.tree, target: target.id, preRollback: '', undoTo: { tree: '', snapshot: '' }, paths: null, writes: [], startedAt: Date.now(), recorded: false }));
    const tip0 = (await listSteps(repo))[0]!.id;
    await expect(rollback(repo, { undo: true, dryRun: true })).rejects.toMatchObject({ code: 'NOTHING_TO_UNDO', message: expect.stringContaining(`rollback to step ${s2} was stopped before it changed anything`) });
    expect(fs.existsSync(journal)).toBe(true);
    await expect(rollback(repo, { undo: true })).rejects.toMatchObject({ code: 'NOTHING_TO_UNDO' });
    expect(picture(dir)).toEqual(rolled);
    expect((await listSteps(repo))[0]!.id).toBe(tip0);
    expect(fs.existsSync(journal)).toBe(false);
    // Now --undo undoes the last rollback that changed something (the undo, back to step 1's state).
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(edited);
  });
});

import { execFileSync } from 'node:child_process';
/** git on ckpt's store (where snapshots and their chains live), with `input` on stdin. */
function execGit(cwd: string, args: string[], input: string): string {
  return execFileSync('git', [`--git-dir=${storeDir(cwd)}`, ...args], { cwd, input, encoding: 'utf8' }).trim();
}
function mktree(cwd: string, spec: string): string {
  return execGit(cwd, ['mktree', '--missing'], spec);
}

describe.each<Mode>(MODES)('rollback: the check at the point of destruction (read by %s)', (mode) => {
  const { makeRepo, snap, rollback } = through(mode);
  it('a same-size edit with its mtime restored, missed by the stat cache (core.checkStat=minimal, trustctime=false), is recorded before it is replaced; --undo brings it back', async () => {
    const dir = makeRepo({ '.gitignore': '*.log\n', 'a.txt': 'aaaa\n', 'other.txt': 'o\n' });
    git(dir, 'config', 'core.checkStat', 'minimal');
    git(dir, 'config', 'core.trustctime', 'false');
    write(dir, { 'keep.log': 'ignored\n', 'staged.txt': 's\n' });
    git(dir, 'add', 'staged.txt');
    const repo = await openRepo(dir);
    const old = new Date('2020-01-02T03:04:05Z');
    fs.utimesSync(path.join(dir, 'a.txt'), old, old);
    const s1 = await snap(repo, 'manual');
    // The agent's edit (its mtime set apart from now, so no racily-clean re-check hides what follows).
    const agentTime = new Date('2021-01-02T03:04:05Z');
    write(dir, { 'a.txt': 'bbbb\n', 'other.txt': 'agent\n' });
    fs.utimesSync(path.join(dir, 'a.txt'), agentTime, agentTime);
    await snap(repo, 'after');
    // The user's edit: same size, mtime put back (as cp -p, rsync -t or tar do).
    write(dir, { 'a.txt': 'cccc\n' });
    fs.utimesSync(path.join(dir, 'a.txt'), agentTime, agentTime);
    const before = picture(dir);
    const user0 = userState(dir);

    const res = await rollback(repo, { target: String(s1) });
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('aaaa\n');
    const steps = await listSteps(repo);
    const pres = steps.filter((s) => s.kind === 'pre-rollback');
    if (mode === 'git') {
      expect(res.recordedDuring).toEqual(['a.txt']);
      expect(res.warnings.join('\n')).toContain('a.txt');
      // The stat cache did miss it: the first pre-rollback snapshot holds the agent's bytes, the further one the user's.
      expect(pres.length).toBe(2);
      expect(storeGit(dir, 'cat-file', 'blob', `${pres[1]!.tree}:a.txt`)).toBe('bbbb\n');
      expect(storeGit(dir, 'cat-file', 'blob', `${pres[0]!.tree}:a.txt`)).toBe('cccc\n');
    } else {
      // The daemon's events saw the write, whatever the stat data: the pre-rollback snapshot holds the user's bytes at once.
      expect(res.readBy).toBe('daemon');
      expect(res.recordedDuring).toEqual([]);
      expect(pres.length).toBe(1);
      expect(storeGit(dir, 'cat-file', 'blob', `${pres[0]!.tree}:a.txt`)).toBe('cccc\n');
    }
    expect(userState(dir)).toEqual(user0);

    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(before);
    expect(userState(dir)).toEqual(user0);
  });

  for (const later of ['answers', 'is gone'] as const)
  it.runIf(mode === 'daemon')(`a writer that changes files after the daemon read the worktree: its bytes are recorded (read again ${later === 'answers' ? 'through the daemon' : 'by git: the daemon is gone after the first read'}) before they are replaced, every other path is restored, --undo brings the writer's bytes back`, async () => {
    const dir = makeRepo({ 'a.txt': 'a1\n', 'b.txt': 'b1\n', 'c/d.txt': 'd1\n', 'e.txt': 'e1\n' });
    write(dir, { 'staged.txt': 's\n' });
    git(dir, 'add', 'staged.txt');
    const repo = await openRepo(dir);
    const s1 = await snap(repo, 'manual');
    write(dir, { 'a.txt': 'a2 agent\n', 'b.txt': 'b2 agent\n', 'c/d.txt': 'd2 agent\n', 'new.txt': 'agent\n' });
    await snap(repo, 'after');
    const user0 = userState(dir);
    // The writer strikes once the plan is made from the daemon's read, before anything is replaced.
    const daemon = daemonReader(repo)!;
    let reads = 0;
    const reader: WorktreeReader = {
      name: 'daemon',
      async read(tip, paths) {
        if (++reads > 1 && later === 'is gone') return null;
        const got = await daemon.read(tip, paths);
        if (reads === 1) write(dir, { 'a.txt': 'the writer\'s bytes\n', 'c/d.txt': 'the writer\'s too\n' });
        return got;
      },
    };
    const res = await rollback(repo, { target: String(s1), reader });
    expect(res.readBy).toBe('daemon');
    expect(res.recordedDuring.sort()).toEqual(['a.txt', 'c/d.txt']);
    // Every path restored, the writer's ones too, once recorded.
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a1\n');
    expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('b1\n');
    expect(fs.readFileSync(path.join(dir, 'c/d.txt'), 'utf8')).toBe('d1\n');
    expect(fs.existsSync(path.join(dir, 'new.txt'))).toBe(false);
    const pres = (await listSteps(repo)).filter((s) => s.kind === 'pre-rollback');
    expect(pres.length).toBe(2);
    expect(storeGit(dir, 'cat-file', 'blob', `${pres[0]!.tree}:a.txt`)).toBe("the writer's bytes\n");
    expect(storeGit(dir, 'cat-file', 'blob', `${pres[0]!.tree}:c/d.txt`)).toBe("the writer's too\n");
    // The further pre-rollback snapshot is the first one with the writer's paths read again, nothing else.
    expect(storeGit(dir, 'diff-tree', '-r', '--name-only', pres[1]!.tree, pres[0]!.tree).trim().split('\n').sort()).toEqual(['a.txt', 'c/d.txt']);
    expect(storeGit(dir, 'cat-file', 'blob', `${pres[0]!.tree}:b.txt`)).toBe('b2 agent\n');
    // The result snapshot is git's own view of the worktree.
    const tipNow = (await listSteps(repo))[0]!;
    expect(tipNow.kind).toBe('rollback');
    expect(tipNow.tree).toBe(gitView(dir));
    expect(reads).toBeGreaterThanOrEqual(3); // the plan's read, the writer's paths, the result
    expect(testDaemonStatus(dir).status.worktrees[0]!.reads).toBeGreaterThanOrEqual(later === 'answers' ? 3 : 1);
    expect(userState(dir)).toEqual(user0);

    await rollback(repo, { undo: true });
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe("the writer's bytes\n");
    expect(fs.readFileSync(path.join(dir, 'c/d.txt'), 'utf8')).toBe("the writer's too\n");
    expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('b2 agent\n');
    expect(fs.readFileSync(path.join(dir, 'new.txt'), 'utf8')).toBe('agent\n');
    expect(userState(dir)).toEqual(user0);
    git(dir, 'fsck', '--no-progress');
  });
});

describe('rollback: smaller ones', () => {
  it('says when the target was taken on another branch (also on a dry run), and changes neither HEAD nor the index', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    write(dir, { 'a.txt': 'on main\n' });
    const s1 = await snap(repo, 'after');
    git(dir, 'stash', '-q');
    git(dir, 'checkout', '-q', '-b', 'other');
    write(dir, { 'b.txt': 'b\n' });
    git(dir, 'add', 'b.txt');
    git(dir, 'commit', '-q', '-m', 'other');
    const user0 = userState(dir);
    const dry = await rollback(repo, { target: String(s1), dryRun: true });
    expect(dry.otherHead).toMatchObject({ targetBranch: expect.stringMatching(/^refs\/heads\/(main|master)$/), branch: 'refs/heads/other' });
    expect(dry.warnings[0]).toMatch(/another branch.*you are on branch other/);
    const res = await rollback(repo, { target: String(s1) });
    expect(res.otherHead?.branch).toBe('refs/heads/other');
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('on main\n');
    expect(userState(dir)).toEqual(user0);
    // The same branch and HEAD: nothing to say.
    const again = await rollback(repo, { undo: true });
    expect(again.otherHead).toBeNull();
    expect(again.warnings).toEqual([]);
  });

  it('`-- .` means the whole tree', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'd/b.txt': 'b\n' });
    const repo = await openRepo(dir);
    const s1 = await snap(repo);
    const before = picture(dir);
    write(dir, { 'a.txt': 'A\n', 'd/b.txt': 'B\n', 'n.txt': 'n\n' });
    await snap(repo);
    const res = await rollback(repo, { target: String(s1), paths: ['.'] });
    expect(res.paths).toBeNull();
    expect(picture(dir)).toEqual(before);
    await expect(rollback(repo, { target: String(s1), paths: ['../x'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('`-- d/f` where d is now a symlink: refused, naming the symlink, nothing written through it; `-- d` restores it', async () => {
    const dir = makeRepo({ 'd/f.txt': 'f\n', 'a.txt': 'a\n' });
    const outside = tempDir();
    const repo = await openRepo(dir);
    const s1 = await snap(repo);
    fs.rmSync(path.join(dir, 'd'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, 'd'));
    await snap(repo);
    const pic = picture(dir);
    const err = await rollback(repo, { target: String(s1), paths: ['d/f.txt'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ROLLBACK_WOULD_CLOBBER' });
    expect(String((err as Error).message)).toMatch(/d is a symlink now/);
    expect(String((err as Error).message)).not.toMatch(/not in any snapshot/);
    expect(picture(dir)).toEqual(pic);
    expect(fs.readdirSync(outside)).toEqual([]);
    // Named against a step that lacks it: the step that holds it is found and named.
    write(dir, { 'a.txt': 'later\n' });
    const s3 = await snap(repo);
    const miss = await rollback(repo, { target: String(s3), paths: ['d/f.txt'] }).catch((e: unknown) => e);
    expect(miss).toMatchObject({ code: 'PATH_NOT_FOUND', data: { steps: { 'd/f.txt': s1 } } });
    expect((miss as { hint: string }).hint).toContain(`ckpt rollback ${s1} -- d/f.txt`);
    await rollback(repo, { target: String(s1), paths: ['d'] });
    expect(fs.lstatSync(path.join(dir, 'd')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'd/f.txt'), 'utf8')).toBe('f\n');
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('`-- d` where d is now a symlink to a directory holding f: the link (in the current snapshot) is replaced by the directory, nothing outside is touched; --undo puts the link back', async () => {
    const dir = makeRepo({ 'd/f': 'f in the worktree\n', 'a.txt': 'a\n' });
    const outside = tempDir();
    try {
      fs.writeFileSync(path.join(outside, 'f'), 'f outside the worktree\n');
      const repo = await openRepo(dir);
      const s1 = await snap(repo);
      const before = picture(dir);
      fs.rmSync(path.join(dir, 'd'), { recursive: true });
      fs.symlinkSync(outside, path.join(dir, 'd'));
      await snap(repo);
      const linked = picture(dir);
      const outside0 = picture(outside);
      const res = await rollback(repo, { target: String(s1), paths: ['d'] });
      expect(res.changes.map((c) => `${c.action} ${c.path}`)).toEqual(['delete d', 'write d/f']);
      expect(fs.lstatSync(path.join(dir, 'd')).isDirectory()).toBe(true);
      expect(picture(dir)).toEqual(before);
      expect(picture(outside)).toEqual(outside0);
      await rollback(repo, { undo: true });
      expect(fs.lstatSync(path.join(dir, 'd')).isSymbolicLink()).toBe(true);
      expect(picture(dir)).toEqual(linked);
      expect(picture(outside)).toEqual(outside0);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('records no empty step: a no-op rollback, a refused one (ROLLBACK_WOULD_CLOBBER, HOSTILE_TREE) and a dry run leave the chain\'s tip as it was; --undo then undoes the last real rollback', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'd/f': 'f\n' });
    const repo = await openRepo(dir);
    const s1 = await snap(repo);
    write(dir, { 'a.txt': 'A\n' });
    await snap(repo);
    const edited = picture(dir);
    await rollback(repo, { target: String(s1) });
    const rolled = picture(dir);
    const tip = async (): Promise<string> => (await listSteps(repo))[0]!.id;
    const tip0 = await tip();
    // No-op: the worktree already matches step 1.
    const noop = await rollback(repo, { target: String(s1) });
    expect(noop.changes).toEqual([]);
    expect(noop.preRollback).toBeNull();
    expect(await tip()).toBe(tip0);
    // Refused: d is a symlink now, d/f would be written through it.
    const outside = tempDir();
    fs.rmSync(path.join(dir, 'd'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, 'd'));
    const s3 = await snap(repo);
    const tip1 = await tip();
    const err = await rollback(repo, { target: String(s1), paths: ['d/f'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ROLLBACK_WOULD_CLOBBER' });
    expect((err as { hint: string }).hint).toMatch(/^Nothing was changed/);
    expect(await tip()).toBe(tip1);
    // Refused: a hostile tree.
    const evil = execGit(dir, ['hash-object', '-w', '--stdin'], 'evil\n');
    const root = mktree(dir, `040000 tree ${mktree(dir, `100644 blob ${evil}\tconfig\n`)}\t.GIT\n`);
    const last = (await listSteps(repo))[0]!;
    const msg = storeGit(dir, 'cat-file', 'commit', last.id).split('\n\n').slice(1).join('\n\n').replace(`Step: ${s3}`, `Step: ${s3 + 1}`);
    storeGit(dir, 'update-ref', repo.ref, execGit(dir, ['commit-tree', root, '-p', last.id, '-p', storeGit(dir, 'rev-parse', `${last.id}^1`).trim()], msg));
    const tip2 = await tip();
    await expect(rollback(repo, { target: String(s3 + 1) })).rejects.toMatchObject({ code: 'HOSTILE_TREE' });
    expect(await tip()).toBe(tip2);
    // A dry run records nothing either.
    await rollback(repo, { target: String(s3), dryRun: true });
    expect(await tip()).toBe(tip2);
    expect(fs.readdirSync(outside)).toEqual([]);
    // --undo undoes the one rollback that changed something.
    fs.rmSync(path.join(dir, 'd'));
    write(dir, { 'd/f': 'f\n' });
    expect(picture(dir)).toEqual(rolled);
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(edited);
  });

  it.each([
    ['.git', '100644'],
    ['sub/.GIT/config', '100644'],
    ['.git ', '100644'],
    ['.git.', '100644'],
    ['.git . .', '100644'],
    ['git~1', '100644'],
    ['GIT~1/hooks/x', '100644'],
    ['.git::$INDEX_ALLOCATION', '100644'],
    ['a\\.git', '100644'],
    ['.g\u200cit', '100644'],
    ['.gitmodules', '120000'],
    ['.GITMODULES .', '120000'],
    ['gitmod~1', '120000'],
    ['gi7eba~3', '120000'],
    ['..', '100644'],
  ])('refuses a snapshot tree holding %j (mode %s), as git verify_path does, before writing anything', async (name, mode) => {
    const dir = makeRepo({ 'f.txt': 'a' });
    const repo = await openRepo(dir);
    await snap(repo);
    const blob = execGit(dir, ['hash-object', '-w', '--stdin'], 'payload\n');
    const parts = name.split('/');
    let entry = `${mode} blob ${blob}\t${parts.at(-1)}\n`;
    for (let i = parts.length - 2; i >= 0; i--) entry = `040000 tree ${mktree(dir, entry)}\t${parts[i]}\n`;
    const root = mktree(dir, `${entry}100644 blob ${blob}\tf.txt\n`);
    const tip = (await listSteps(repo))[0]!;
    const msg = storeGit(dir, 'cat-file', 'commit', tip.id).split('\n\n').slice(1).join('\n\n').replace('Step: 1', 'Step: 2');
    const forged = execGit(dir, ['commit-tree', root, '-p', tip.id, '-p', storeGit(dir, 'rev-parse', `${tip.id}^1`).trim()], msg);
    storeGit(dir, 'update-ref', repo.ref, forged);
    const pic = picture(dir);
    const user0 = userState(dir);
    await expect(rollback(repo, { target: '2' })).rejects.toMatchObject({ code: 'HOSTILE_TREE' });
    expect(picture(dir)).toEqual(pic);
    expect(userState(dir)).toEqual(user0);
  });

  it('accepts the names git accepts: .github, .gitignore, .gitmodules as a file, git~2x, a.git', async () => {
    const dir = makeRepo({ 'f.txt': 'a' });
    const repo = await openRepo(dir);
    const s1 = await snap(repo);
    write(dir, { '.github/w.yml': 'w\n', '.gitignore': 'x\n', '.gitmodules': '', 'git~2x': 'g\n', 'a.git': 'a\n', '.git2/x': 'x\n' });
    await snap(repo);
    const pic = picture(dir);
    await rollback(repo, { target: String(s1) });
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(pic);
  });
});

describe('rollback: a journal left by a failure that could not put everything back', () => {
  it('the next command puts back first (not finishing it), then does what it was asked; --undo after it is exact', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': 'c\n' });
    const repo = await openRepo(dir);
    const s1 = await snap(repo);
    write(dir, { 'a.txt': 'A\n', 'b.txt': 'B\n', 'c.txt': 'C\n' });
    await snap(repo);
    const before = picture(dir);
    const user0 = userState(dir);
    // As a failed rollback to step 1 leaves it: pre-rollback recorded, a.txt and b.txt written, the put-back failed.
    const pre = (await takeSnapshot(repo, { kind: 'pre-rollback', force: true, extra: { 'Rollback-Target': 'x', 'Rollback-Paths': 'null' } })).snapshot;
    const target = (await listSteps(repo)).find((s) => s.step === s1)!;
    fs.writeFileSync(
      path.join(repo.stateDir, 'journal.json'),
      JSON.stringify({ version: 2, label: 'rollback to step 1', tree: target.tree, target: target.id, preRollback: pre.id, undoTo: { tree: pre.tree, snapshot: pre.id }, paths: null, writes: [], failed: true, startedAt: Date.now() }),
    );
    write(dir, { 'a.txt': 'a\n', 'b.txt': 'b\n' });
    // A single-path rollback: the failed one is put back first, then only c.txt is restored.
    const res = await rollback(repo, { target: String(s1), paths: ['c.txt'] });
    expect(res.recovered).toBe(true);
    expect(fs.existsSync(path.join(repo.stateDir, 'journal.json'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('A\n');
    expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('B\n');
    expect(fs.readFileSync(path.join(dir, 'c.txt'), 'utf8')).toBe('c\n');
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(before);
    expect(userState(dir)).toEqual(user0);
  });
});
