/**
 * Snapshots against real git: what is captured (and what never is), and that
 * nothing of the user's (index, HEAD, refs, files) changes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { openRepo, takeSnapshot, listSteps, rollback, isCkptError } from '../src/index.js';
import { captureTreeReporting } from '../src/snapshot/capture.js';
import { REF_RACE_TRIES, retryOnRefRace, withWorktreeLock } from '../src/snapshot/lock.js';
import { takeSnapshotLocked } from '../src/snapshot/take.js';
import { git, indexBytes, makeRepo, picture, storeGit, storeGitBuf, tempDir, userRefs, write, CLI } from './support/repo.js';

/** Paths and modes of a tree, `mode path` per entry, recursively. */
function treeEntries(repo: string, tree: string): Record<string, string> {
  const out: Record<string, string> = {};
  const recs = storeGitBuf(repo, 'ls-tree', '-r', '-z', tree).toString('latin1').split('\0').filter(Boolean);
  for (const r of recs) {
    const tab = r.indexOf('\t');
    const [mode, , oid] = r.slice(0, tab).split(' ');
    out[r.slice(tab + 1)] = `${mode} ${oid}`;
  }
  return out;
}

function blob(repo: string, tree: string, rel: string): Buffer {
  return storeGitBuf(repo, 'cat-file', 'blob', `${tree}:${rel}`);
}

describe('takeSnapshot', () => {
  it('a snapshot that loses the race on its ref (another process recorded while it read) is taken again under the lock; one that always loses says REF_RACE', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual', message: 'first' });
    // What a process that took the lock over (this one stalled past the stale time) does: it records between our read of the tip and our swap.
    const theirs = async (n: number): Promise<void> => {
      write(dir, { 'b.txt': `theirs ${n}\n` });
      await takeSnapshotLocked(repo, { kind: 'auto', message: `theirs ${n}` });
    };
    let runs = 0;
    const res = await retryOnRefRace(() =>
      withWorktreeLock(repo, () =>
        takeSnapshotLocked(repo, { kind: 'manual', message: 'mine', force: true }, {
          capture: async () => {
            if (++runs === 1) await theirs(runs);
            return captureTreeReporting(repo);
          },
        }),
      ),
    );
    expect(runs).toBe(2);
    expect((await listSteps(repo, { stats: false })).map((s) => [s.step, s.message])).toEqual([
      [3, 'mine'],
      [2, 'theirs 1'],
      [1, 'first'],
    ]);
    expect(storeGit(dir, 'cat-file', 'blob', `${res.snapshot.tree}:b.txt`)).toBe('theirs 1\n');
    // Lost every time: REF_RACE after REF_RACE_TRIES runs, nothing of its own recorded.
    runs = 0;
    const always = retryOnRefRace(() =>
      withWorktreeLock(repo, () =>
        takeSnapshotLocked(repo, { kind: 'manual', message: 'never', force: true }, {
          capture: async () => {
            await theirs(++runs + 1);
            return captureTreeReporting(repo);
          },
        }),
      ),
    );
    await expect(always).rejects.toMatchObject({ code: 'REF_RACE' });
    expect(runs).toBe(REF_RACE_TRIES);
    expect((await listSteps(repo, { stats: false })).map((s) => s.message)).not.toContain('never');
  });

  it('captures tracked and untracked files, leaves ignored ones out, touches nothing of the user', async () => {
    const dir = makeRepo({ 'README.md': '# x\n', '.gitignore': 'node_modules/\n*.log\n.env\n', 'src/a.ts': 'a\n' });
    write(dir, { 'src/a.ts': 'a changed\n', 'src/new.ts': 'new\n', 'node_modules/x/index.js': 'x', 'debug.log': 'log', '.env': 'SECRET=1', 'excluded.txt': 'e', 'global-ignored.tmp': 'g' });
    fs.writeFileSync(path.join(dir, '.git', 'info', 'exclude'), 'excluded.txt\n');
    const globalIgnore = path.join(tempDir(), 'global-ignore');
    fs.writeFileSync(globalIgnore, '*.tmp\n');
    git(dir, 'config', 'core.excludesFile', globalIgnore);
    write(dir, { 'staged.txt': 'staged\n' });
    git(dir, 'add', 'staged.txt');
    git(dir, 'stash', 'list');
    const index0 = indexBytes(dir);
    const refs0 = userRefs(dir);
    const pic0 = picture(dir);

    const repo = await openRepo(dir);
    const { snapshot, created } = await takeSnapshot(repo, { kind: 'manual', message: 'first' });
    expect(created).toBe(true);
    expect(snapshot.step).toBe(1);
    const entries = treeEntries(dir, snapshot.tree);
    expect(Object.keys(entries).sort()).toEqual(['.gitignore', 'README.md', 'src/a.ts', 'src/new.ts', 'staged.txt']);
    expect(blob(dir, snapshot.tree, 'src/a.ts').toString()).toBe('a changed\n');

    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(userRefs(dir)).toBe(refs0);
    expect(picture(dir)).toEqual(pic0);
    // Hidden: not a branch, not in `git log`, not a ref of the user's at all: in ckpt's store.
    expect(git(dir, 'branch', '--list')).not.toContain('ckpt');
    expect(git(dir, 'log', '--oneline')).not.toContain('first');
    expect(git(dir, 'for-each-ref', 'refs/ckpt/')).toBe(''); // not in the user's ref namespace
    expect(storeGit(dir, 'for-each-ref', 'refs/ckpt/')).toContain(snapshot.id);
    // Records HEAD and the user's index tree (the staged file is in it).
    expect(snapshot.head).toBe(git(dir, 'rev-parse', 'HEAD').trim());
    expect(snapshot.indexTree).toBe(git(dir, 'write-tree').trim());
  });

  it('follows ignore rules that change outside .gitignore: info/exclude, core.excludesFile and its content', async () => {
    const dir = makeRepo({ 'README.md': '# x\n' });
    write(dir, { 'a.tmp': 'a', 'b.bak': 'b', 'c.log': 'c' });
    const repo = await openRepo(dir);
    const names = async (): Promise<string[]> => Object.keys(treeEntries(dir, (await takeSnapshot(repo, { kind: 'auto', force: true })).snapshot.tree)).sort();
    expect(await names()).toEqual(['README.md', 'a.tmp', 'b.bak', 'c.log']);
    fs.writeFileSync(path.join(dir, '.git', 'info', 'exclude'), '*.log\n');
    expect(await names()).toEqual(['README.md', 'a.tmp', 'b.bak']);
    const excludes = path.join(tempDir(), 'ignore');
    fs.writeFileSync(excludes, '*.tmp\n');
    git(dir, 'config', 'core.excludesFile', excludes); // the setting appears
    expect(await names()).toEqual(['README.md', 'b.bak']);
    fs.appendFileSync(excludes, '*.bak\n'); // the file's content changes
    expect(await names()).toEqual(['README.md']);
    git(dir, 'config', '--unset', 'core.excludesFile'); // and goes away
    expect(await names()).toEqual(['README.md', 'a.tmp', 'b.bak']);
  });

  it('does not record an identical tree twice, and chains steps', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    const a = await takeSnapshot(repo, { kind: 'auto' });
    const b = await takeSnapshot(repo, { kind: 'auto' });
    expect(b.created).toBe(false);
    expect(b.snapshot.id).toBe(a.snapshot.id);
    write(dir, { 'x.txt': 'x' });
    const c = await takeSnapshot(repo, { kind: 'auto' });
    expect(c.created).toBe(true);
    expect(c.snapshot.step).toBe(2);
    expect(c.snapshot.parent).toBe(a.snapshot.id);
    const forced = await takeSnapshot(repo, { kind: 'before', force: true, tool: 'Edit', target: 'x.txt' });
    expect(forced.created).toBe(true);
    expect(forced.snapshot.tree).toBe(c.snapshot.tree);
    const steps = await listSteps(repo);
    expect(steps.map((s) => s.step)).toEqual([3, 2, 1]);
    expect(steps[1]!.stats).toEqual({ files: 1, insertions: 1, deletions: 0 });
    expect(steps[0]!.tool).toBe('Edit');
    expect(steps[0]!.message).toBe('before Edit x.txt');
  });

  it('stores raw bytes: no EOL conversion, no clean filter, whatever .gitattributes and config say', async () => {
    const dir = makeRepo({ '.gitattributes': '* text=auto\n*.bin filter=boom\n*.txt eol=crlf\n', 'README.md': 'x\n' });
    git(dir, 'config', 'core.autocrlf', 'true');
    git(dir, 'config', 'filter.boom.clean', 'false'); // a clean filter that fails
    git(dir, 'config', 'filter.boom.required', 'true');
    const crlf = Buffer.from('one\r\ntwo\r\nmixed\n');
    const bin = Buffer.from([0, 1, 2, 0x0d, 0x0a, 255]);
    write(dir, { 'win.md': crlf, 'data.bin': bin, 'lf.txt': 'lf\n' });
    const repo = await openRepo(dir);
    const { snapshot } = await takeSnapshot(repo, { kind: 'manual' });
    expect(blob(dir, snapshot.tree, 'win.md').equals(crlf)).toBe(true);
    expect(blob(dir, snapshot.tree, 'data.bin').equals(bin)).toBe(true);
    expect(blob(dir, snapshot.tree, 'lf.txt').toString()).toBe('lf\n');
    // and restores them raw, too
    write(dir, { 'win.md': 'gone', 'lf.txt': null });
    await rollback(repo, { target: String(snapshot.step) });
    expect(fs.readFileSync(path.join(dir, 'win.md')).equals(crlf)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'lf.txt')).toString()).toBe('lf\n');
  });

  it('captures the executable bit and symlinks as links (dangling, outside, looping, to .git)', async () => {
    const dir = makeRepo({ 'run.sh': '#!/bin/sh\n' });
    fs.chmodSync(path.join(dir, 'run.sh'), 0o755);
    fs.symlinkSync('/etc/passwd', path.join(dir, 'outside'));
    fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
    fs.symlinkSync('loop', path.join(dir, 'loop'));
    fs.symlinkSync('.git', path.join(dir, 'to-git'));
    const repo = await openRepo(dir);
    const { snapshot } = await takeSnapshot(repo, { kind: 'manual' });
    const e = treeEntries(dir, snapshot.tree);
    expect(e['run.sh']!.startsWith('100755')).toBe(true);
    for (const l of ['outside', 'dangling', 'loop', 'to-git']) expect(e[l]!.startsWith('120000')).toBe(true);
    expect(blob(dir, snapshot.tree, 'outside').toString()).toBe('/etc/passwd');
    expect(blob(dir, snapshot.tree, 'to-git').toString()).toBe('.git');
  });

  it('works with no commits yet, a detached HEAD, and an unmerged index; HEAD never moves', async () => {
    const empty = makeRepo({ 'a.txt': 'a' }, { commit: false });
    const r1 = await openRepo(empty);
    const s1 = await takeSnapshot(r1, { kind: 'manual' });
    expect(s1.snapshot.head).toBeNull();
    expect(git(empty, 'rev-list', '--all')).toBe(git(empty, 'rev-list', '--all')); // still runs
    expect(() => git(empty, 'rev-parse', '--verify', '-q', 'HEAD')).toThrow();

    const dir = makeRepo({ 'f.txt': 'base\n' });
    git(dir, 'checkout', '-q', '-b', 'other');
    write(dir, { 'f.txt': 'other\n' });
    git(dir, 'commit', '-qam', 'other');
    git(dir, 'checkout', '-q', 'main');
    write(dir, { 'f.txt': 'main\n' });
    git(dir, 'commit', '-qam', 'main');
    expect(() => git(dir, 'merge', 'other')).toThrow(); // conflict: unmerged index, MERGE_HEAD
    const index0 = indexBytes(dir);
    const refs0 = userRefs(dir);
    const r2 = await openRepo(dir);
    const s2 = await takeSnapshot(r2, { kind: 'manual' });
    expect(s2.snapshot.indexTree).toBeNull();
    expect(blob(dir, s2.snapshot.tree, 'f.txt').toString()).toContain('<<<<<<<');
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(userRefs(dir)).toBe(refs0);
    expect(fs.existsSync(path.join(dir, '.git', 'MERGE_HEAD'))).toBe(true);

    git(dir, 'merge', '--abort');
    git(dir, 'checkout', '-q', '--detach', 'HEAD~1');
    const s3 = await takeSnapshot(r2, { kind: 'manual' });
    expect(s3.snapshot.headRef).toBeNull();
    expect(s3.snapshot.head).toBe(git(dir, 'rev-parse', 'HEAD').trim());
  });

  it('keeps staged changes and intent-to-add entries of the user byte-identical', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    write(dir, { 'a.txt': 'staged\n', 'ita.txt': 'intent\n' });
    git(dir, 'add', 'a.txt');
    git(dir, 'add', '-N', 'ita.txt');
    write(dir, { 'a.txt': 'unstaged on top\n' });
    const index0 = indexBytes(dir);
    const status0 = git(dir, 'status', '--porcelain=v2');
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    write(dir, { 'b.txt': 'agent\n' });
    await takeSnapshot(repo, { kind: 'auto' });
    await rollback(repo, { target: '1' });
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(git(dir, 'status', '--porcelain=v2')).toBe(status0);
  });

  it('resolves linked worktrees (.git as a file), keeps one chain per worktree in the common dir', async () => {
    const main = makeRepo();
    const linked = path.join(tempDir(), 'linked');
    git(main, 'worktree', 'add', '-q', '-b', 'feature', linked);
    write(linked, { 'only-in-linked.txt': 'l' });
    const rMain = await openRepo(main);
    const rLinked = await openRepo(path.join(linked, 'src'));
    expect(rLinked.worktree).toBe(linked);
    expect(rLinked.commonDir).toBe(rMain.commonDir);
    expect(rLinked.ref).not.toBe(rMain.ref);
    await takeSnapshot(rMain, { kind: 'manual' });
    const s = await takeSnapshot(rLinked, { kind: 'manual' });
    expect(Object.keys(treeEntries(main, s.snapshot.tree))).toContain('only-in-linked.txt');
    const refs = storeGit(main, 'for-each-ref', '--format=%(refname)', 'refs/ckpt/').trim().split('\n');
    expect(refs.sort()).toEqual([rMain.ref, rLinked.ref].sort());
    // survives gc: the refs and everything they point to stay
    git(main, 'gc', '--prune=now', '-q');
    expect(storeGit(main, 'cat-file', '-t', s.snapshot.id).trim()).toBe('commit');
    expect(storeGit(main, 'cat-file', '-t', s.snapshot.indexTree!).trim()).toBe('tree');
  });

  it('refuses a bare repository and a directory outside any repository with a clear code', async () => {
    const bare = tempDir();
    git(bare, 'init', '-q', '--bare');
    await expect(openRepo(bare)).rejects.toMatchObject({ code: 'BARE_REPO' });
    const none = tempDir();
    fs.writeFileSync(path.join(none, 'x'), 'x');
    await expect(openRepo(none)).rejects.toMatchObject({ code: 'NOT_A_REPO' });
  });

  it('runs no hook and signs nothing, whatever the repository config says', async () => {
    const dir = makeRepo();
    const hooks = path.join(dir, '.git', 'hooks');
    const marker = path.join(tempDir(), 'hook-ran');
    for (const h of ['pre-commit', 'post-commit', 'reference-transaction', 'post-index-change']) {
      fs.writeFileSync(path.join(hooks, h), `#!/bin/sh\necho ${h} >> ${marker}\nexit 1\n`, { mode: 0o755 });
    }
    git(dir, 'config', 'core.hooksPath', hooks);
    git(dir, 'config', 'commit.gpgSign', 'true');
    git(dir, 'config', 'gpg.program', 'false');
    git(dir, 'config', 'core.fsmonitor', 'true');
    write(dir, { 'n.txt': 'n' });
    const repo = await openRepo(dir);
    const s = await takeSnapshot(repo, { kind: 'manual' });
    expect(s.created).toBe(true);
    expect(storeGit(dir, 'cat-file', 'commit', s.snapshot.id)).not.toContain('gpgsig');
    write(dir, { 'n.txt': 'n2' });
    await rollback(repo, { target: '1' });
    expect(fs.readFileSync(path.join(dir, 'n.txt'), 'utf8')).toBe('n');
    // update-ref would run reference-transaction: not one hook ran
    expect(fs.existsSync(marker)).toBe(false);
  });

  it("works while the user's index.lock is held, and leaves that lock alone", async () => {
    const dir = makeRepo();
    const lock = path.join(dir, '.git', 'index.lock');
    fs.writeFileSync(lock, 'held by an editor');
    write(dir, { 'x.txt': 'x' });
    const repo = await openRepo(dir);
    const s = await takeSnapshot(repo, { kind: 'manual' });
    expect(s.created).toBe(true);
    write(dir, { 'x.txt': 'y' });
    await rollback(repo, { target: '1' });
    expect(fs.readFileSync(path.join(dir, 'x.txt'), 'utf8')).toBe('x');
    expect(fs.readFileSync(lock, 'utf8')).toBe('held by an editor');
  });

  it('keeps hostile and odd file names byte-exact (spaces, newlines, *, :(exclude), leading -, non-UTF-8, NFC/NFD)', async () => {
    const dir = makeRepo();
    const names = ['with space.txt', 'new\nline.txt', 'star*.txt', ':(exclude)x.txt', '-leading-dash.txt', 'caf\u00e9-nfc.txt', 'cafe\u0301-nfd.txt', 'tab\there.txt', 'back\\slash.txt'];
    for (const n of names) fs.writeFileSync(path.join(dir, n), `content of ${n}`);
    const bad = Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x62, 0xff, 0xfe, 0x2e, 0x74])]);
    fs.writeFileSync(bad, 'not utf-8 name');
    const before = picture(dir);
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    for (const n of names) fs.writeFileSync(path.join(dir, n), 'clobbered');
    fs.rmSync(bad);
    fs.writeFileSync(path.join(dir, '--no-index'), 'an option-like name');
    await takeSnapshot(repo, { kind: 'auto' });
    await rollback(repo, { target: '1' });
    expect(picture(dir)).toEqual(before);
    // single hostile paths roll back too, literally
    fs.writeFileSync(path.join(dir, 'star*.txt'), 'again');
    fs.writeFileSync(path.join(dir, 'starX.txt'), 'must not be matched by star*');
    await takeSnapshot(repo, { kind: 'auto' });
    await rollback(repo, { target: '1', paths: ['star*.txt'] });
    expect(fs.readFileSync(path.join(dir, 'star*.txt'), 'utf8')).toBe('content of star*.txt');
    expect(fs.readFileSync(path.join(dir, 'starX.txt'), 'utf8')).toBe('must not be matched by star*');
  });

  it('skips FIFOs, sockets and devices without opening them, and says so when one replaced a captured file', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    execFileSync('mkfifo', [path.join(dir, 'untracked.pipe')]);
    const server = net.createServer().listen(path.join(dir, 'untracked.sock'));
    await new Promise((r) => server.once('listening', r));
    try {
      fs.rmSync(path.join(dir, 'a.txt'));
      execFileSync('mkfifo', [path.join(dir, 'a.txt')]); // a captured file is now a FIFO
      write(dir, { 'b.txt': 'b2\n' });
      const taken = await takeSnapshot(repo, { kind: 'auto' }); // would hang forever if it opened the FIFO
      expect(taken.created).toBe(true);
      expect(taken.warnings).toEqual([expect.stringMatching(/^a\.txt: a FIFO, socket or device/)]);
      expect(Object.keys(treeEntries(dir, taken.snapshot.tree)).sort()).toEqual(['b.txt']);
      expect(fs.lstatSync(path.join(dir, 'a.txt')).isFIFO()).toBe(true);
      expect(fs.lstatSync(path.join(dir, 'untracked.pipe')).isFIFO()).toBe(true);
      expect(fs.lstatSync(path.join(dir, 'untracked.sock')).isSocket()).toBe(true);
      // Rolling back to the step where a.txt was a file would destroy the FIFO, which no snapshot holds: refused.
      const before = picture(dir);
      await expect(rollback(repo, { target: '1' })).rejects.toMatchObject({ code: 'ROLLBACK_WOULD_CLOBBER' });
      expect(picture(dir)).toEqual(before);
      // Once it is gone, the rollback restores the file.
      fs.rmSync(path.join(dir, 'a.txt'));
      await rollback(repo, { target: '1' });
      expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a\n');
      expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('b\n');
      expect(fs.lstatSync(path.join(dir, 'untracked.pipe')).isFIFO()).toBe(true);
    } finally {
      server.close();
    }
  });

  it("lists skip-worktree entries only from an index that can hold them (version 3 or later, or split), and still clears its own once the user's index is back at version 2", async () => {
    const dir = makeRepo({ 'a/x.txt': '1\n', 'b/y.txt': '2\n' });
    const repo = await openRepo(dir);
    const trace = path.join(tempDir(), 'trace');
    const listings = (): number => (fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').split('\n').filter((l) => /ls-files -z -t -s/.test(l)).length : 0);
    const before = process.env.GIT_TRACE;
    process.env.GIT_TRACE = trace;
    try {
      // A version 2 index (git's default) holds no skip-worktree flag: no listing of every path, on either side.
      expect(indexBytes(dir).readUInt32BE(4)).toBe(2);
      const s1 = await takeSnapshot(repo, { kind: 'manual' });
      expect(s1.created).toBe(true);
      expect(fs.existsSync(trace)).toBe(true); // git traced the snapshot's other commands
      expect(listings()).toBe(0);
      // The user flags b/y.txt (the index becomes version 3) and removes it: it is kept, not recorded as deleted.
      git(dir, 'update-index', '--skip-worktree', 'b/y.txt');
      expect(indexBytes(dir).readUInt32BE(4)).toBe(3);
      fs.rmSync(path.join(dir, 'b'), { recursive: true });
      write(dir, { 'a/x.txt': '11\n' });
      const s2 = await takeSnapshot(repo, { kind: 'auto' });
      expect(listings()).toBeGreaterThan(0);
      expect(blob(dir, s2.snapshot.tree, 'b/y.txt').toString()).toBe('2\n');
      // Flag cleared and the index written as version 2 again: the private index (version 3, flagged) is still listed, its flag cleared, the file read.
      git(dir, 'update-index', '--no-skip-worktree', 'b/y.txt');
      git(dir, 'update-index', '--index-version', '2');
      expect(indexBytes(dir).readUInt32BE(4)).toBe(2);
      write(dir, { 'b/y.txt': '22\n' });
      const s3 = await takeSnapshot(repo, { kind: 'auto' });
      expect(blob(dir, s3.snapshot.tree, 'b/y.txt').toString()).toBe('22\n');
    } finally {
      if (before === undefined) delete process.env.GIT_TRACE;
      else process.env.GIT_TRACE = before;
      fs.rmSync(path.dirname(trace), { recursive: true, force: true });
    }
  });

  it('follows a sparse checkout: paths outside it are neither recorded as deleted nor materialised by a rollback', async () => {
    const dir = makeRepo({ 'a/x.txt': '1\n', 'b/y.txt': '2\n', 'root.txt': 'r\n' });
    const repo = await openRepo(dir);
    const names = (tree: string): string[] => Object.keys(treeEntries(dir, tree)).sort();
    const s1 = await takeSnapshot(repo, { kind: 'manual' });
    git(dir, 'sparse-checkout', 'set', 'a'); // after the private index exists
    expect(fs.existsSync(path.join(dir, 'b'))).toBe(false);
    const s2 = await takeSnapshot(repo, { kind: 'auto' });
    expect(s2.created).toBe(false); // b/y.txt is out of the cone, not deleted
    write(dir, { 'a/x.txt': '11\n' });
    const s3 = await takeSnapshot(repo, { kind: 'auto' });
    expect(names(s3.snapshot.tree)).toEqual(['a/x.txt', 'b/y.txt', 'root.txt']);
    const index0 = indexBytes(dir);
    await rollback(repo, { target: String(s1.snapshot.step) });
    expect(fs.readFileSync(path.join(dir, 'a/x.txt'), 'utf8')).toBe('1\n');
    expect(fs.existsSync(path.join(dir, 'b'))).toBe(false); // not materialised
    expect(indexBytes(dir).equals(index0)).toBe(true);
    git(dir, 'sparse-checkout', 'disable');
    write(dir, { 'b/y.txt': '22\n' });
    const s4 = await takeSnapshot(repo, { kind: 'auto' });
    expect(blob(dir, s4.snapshot.tree, 'b/y.txt').toString()).toBe('22\n'); // tracked again once back in the worktree
  });

  it('stores a nested repository as a gitlink, with a warning', async () => {
    const dir = makeRepo();
    const nested = path.join(dir, 'vendor', 'lib');
    fs.mkdirSync(nested, { recursive: true });
    git(nested, 'init', '-q');
    write(nested, { 'x.c': 'int x;' });
    git(nested, 'add', '-A');
    git(nested, 'commit', '-qm', 'nested');
    const repo = await openRepo(dir);
    const s = await takeSnapshot(repo, { kind: 'manual' });
    expect(treeEntries(dir, s.snapshot.tree)['vendor/lib']!.startsWith('160000')).toBe(true);
    expect(s.warnings.join('\n')).toContain('vendor/lib');
  });

  it('serialises concurrent snapshotters on one worktree: one chain, consecutive steps, no lost update', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    const procs = Array.from({ length: 4 }, (_, i) =>
      new Promise<number>((resolve) => {
        write(dir, { [`p${i}.txt`]: String(i) });
        const child = spawn(process.execPath, [CLI, 'snap', '--force', '--json', '-m', `proc ${i}`], { cwd: dir, stdio: 'ignore' });
        child.on('exit', (code) => resolve(code ?? -1));
      }),
    );
    const codes = await Promise.all(procs);
    expect(codes).toEqual([0, 0, 0, 0]);
    const steps = await listSteps(repo, { stats: false });
    expect(steps.map((s) => s.step)).toEqual([5, 4, 3, 2, 1]);
    for (let i = 0; i < steps.length - 1; i++) expect(steps[i]!.parent).toBe(steps[i + 1]!.id);
  });

  it('never records a partial tree when its own stdout is a closed pipe', async () => {
    const dir = makeRepo();
    const many: Record<string, string> = {};
    for (let i = 0; i < 300; i++) many[`gen/f${i}.txt`] = `file ${i}\n`;
    write(dir, many);
    // stdout and stderr of ckpt are a pipe whose reader is already gone
    await new Promise<void>((resolve) => {
      const child = spawn('sh', ['-c', `exec 1>&- 2>&-; "${process.execPath}" "${CLI}" snap -m piped`], { cwd: dir, stdio: 'ignore' });
      child.on('exit', () => resolve());
    });
    const repo = await openRepo(dir);
    const steps = await listSteps(repo);
    // git's output goes to ckpt, never to the closed pipe: the snapshot is
    // recorded, and it holds every file.
    expect(steps).toHaveLength(1);
    const entries = treeEntries(dir, steps[0]!.tree);
    for (const k of Object.keys(many)) expect(entries[k]).toBeDefined();
    expect(isCkptError(new Error('x'))).toBe(false);
  });
  it('an untracked file over the size cap where a captured directory was: left out, the directory gone from the snapshot, and snapshots go on', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    write(dir, { 'r/s/t/1.txt': '1\n', 'r/2.txt': '2\n' });
    const repo = await openRepo(dir);
    const saved = process.env.CKPT_MAX_FILE_SIZE;
    process.env.CKPT_MAX_FILE_SIZE = '64B';
    try {
      const first = await takeSnapshot(repo, { kind: 'manual' });
      expect(Object.keys(treeEntries(dir, first.snapshot.tree))).toContain('r/s/t/1.txt');
      fs.rmSync(path.join(dir, 'r'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'r'), 'x'.repeat(100)); // a file, over the cap, where the directory was
      const second = await takeSnapshot(repo, { kind: 'manual' });
      expect(second.created).toBe(true);
      expect(second.snapshot.notCaptured).toEqual([{ path: 'r', reason: 'too-large', size: 100 }]);
      expect(Object.keys(treeEntries(dir, second.snapshot.tree)).sort()).toEqual(['a.txt']);
      write(dir, { 'b.txt': 'b\n' });
      const third = await takeSnapshot(repo, { kind: 'manual' });
      expect(Object.keys(treeEntries(dir, third.snapshot.tree)).sort()).toEqual(['a.txt', 'b.txt']);
    } finally {
      if (saved === undefined) delete process.env.CKPT_MAX_FILE_SIZE;
      else process.env.CKPT_MAX_FILE_SIZE = saved;
    }
  });
});
