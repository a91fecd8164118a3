/**
 * `race clean` never removes a worktree whose live state is not in a
 * snapshot: a held lock or a worktree git no longer knows keep it (bytes
 * intact, an error naming why); an edit made after the race is recorded,
 * reported, and brought by a later `race pick`; bytes the stat cache misses
 * are caught by the check at the point of destruction and recorded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openRepo } from '../src/git/repo.js';
import { withWorktreeLock } from '../src/snapshot/lock.js';
import { takeSnapshot } from '../src/snapshot/take.js';
import { cleanRace, cleanRefusal } from '../src/race/clean.js';
import { pickAttempt } from '../src/race/pick.js';
import { resolveRace } from '../src/race/store.js';
import { attemptSnapshot, fileVersions } from '../src/race/compare.js';
import { makeFakeRace } from './support/fake-race.js';
import { raceRepo } from './support/race.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { CLI, git, indexBytes, picture, write } from './support/repo.js';
import { withStoreLock } from '../src/git/store.js';
import { createAttemptWorktree } from '../src/race/worktree.js';
import type { Repo } from '../src/git/repo.js';
import { until } from './support/wait.js';

/**
 * Holds `repo`'s worktree lock (worktrees.lock, as another ckpt process's `git worktree add` would) until the returned
 * release is called; `waiting()` says whether some process now waits for it (its announcement beside the lock).
 */
async function holdWorktreesLock(repo: Repo): Promise<{ release: () => Promise<void>; waiting: () => boolean }> {
  let release!: () => void;
  let held!: () => void;
  const isHeld = new Promise<void>((r) => (held = r));
  const done = withStoreLock(repo, 'worktrees', () => {
    held();
    return new Promise<void>((r) => (release = r));
  });
  await isHeld;
  const dir = path.join(repo.commonDir, 'ckpt');
  return {
    release: async () => {
      release();
      await done;
    },
    waiting: () => fs.readdirSync(dir).some((n) => n.startsWith('worktrees.lock.') && n.endsWith('.new')),
  };
}

const branchExists = (dir: string, branch: string): boolean => git(dir, 'branch', '--list', branch).trim() !== '';

describe('race clean', () => {
  it('a held lock: that worktree and its branch are kept, bytes intact, and the refusal says why; the others go', async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('lock');
    write(worktrees.codex!, { 'src/util.ts': 'edited after the race\n', 'notes.txt': 'new after the race\n' });
    const before = picture(worktrees.codex!);
    const codexRepo = await openRepo(worktrees.codex!);
    const res = await withWorktreeLock(codexRepo, () => cleanRace(repo, race, { lockWaitMs: 300 }));
    const codex = res.attempts.find((x) => x.attempt === 'codex')!;
    expect(codex).toMatchObject({ removed: false });
    expect(codex.reason).toMatch(/could not record its live state: another ckpt process/);
    expect(picture(worktrees.codex!)).toEqual(before);
    expect(branchExists(dir, race.attempts[1]!.branch)).toBe(true);
    for (const n of ['claude', 'gemini']) {
      expect(fs.existsSync(worktrees[n]!)).toBe(false);
      expect(branchExists(dir, `ckpt/race/lock/${n}`)).toBe(false);
    }
    const err = cleanRefusal(res);
    expect(err).toMatchObject({ code: 'WORKTREE_KEPT', kind: 'conflict' });
    expect(err!.message).toContain(worktrees.codex!);
    expect(resolveRace(repo, 'lock').cleaned).toBe(false);
    // The lock released: the next clean records the edits and removes the worktree.
    const again = await cleanRace(repo, resolveRace(repo, 'lock'));
    expect(cleanRefusal(again)).toBeNull();
    expect(again.attempts.find((x) => x.attempt === 'codex')).toMatchObject({ removed: true, kept: ['notes.txt', 'src/util.ts'] });
    expect(fs.existsSync(worktrees.codex!)).toBe(false);
    expect(resolveRace(repo, 'lock').cleaned).toBe(true);
  });

  it('an edit made after the race: recorded, reported, and `race pick` of that attempt brings it (byte-exact)', async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('late', ['claude', 'codex']);
    const late = { 'src/extra.ts': 'export const extra = "edited by hand in the attempt";\n', 'late.bin': Buffer.from([0, 1, 2, 255, 13, 10]) };
    write(worktrees.claude!, { ...late, 'README.md': null });
    const res = await cleanRace(repo, race);
    expect(cleanRefusal(res)).toBeNull();
    const claude = res.attempts.find((x) => x.attempt === 'claude')!;
    expect(claude).toMatchObject({ removed: true, kept: ['README.md', 'late.bin', 'src/extra.ts'] });
    expect(res.attempts.find((x) => x.attempt === 'codex')).toMatchObject({ removed: true, kept: [] });
    expect(fs.existsSync(worktrees.claude!)).toBe(false);
    const saved = resolveRace(repo, 'late');
    expect(saved.attempts[0]!.final).toBe(claude.snapshot);
    expect(saved.warnings.join('\n')).toContain('3 paths changed in claude after the race');
    // The CLI's pick of that attempt takes the snapshot clean recorded.
    const index0 = indexBytes(dir);
    await pickAttempt(saved, 'claude');
    expect(fs.readFileSync(path.join(dir, 'src/extra.ts'), 'utf8')).toBe(late['src/extra.ts']);
    expect(fs.readFileSync(path.join(dir, 'late.bin')).equals(late['late.bin'])).toBe(true);
    expect(fs.existsSync(path.join(dir, 'README.md'))).toBe(false);
    expect(indexBytes(dir).equals(index0)).toBe(true);
  });

  it('bytes the stat cache misses (same size, mtime put back, core.checkStat=minimal) are read afresh and recorded before the worktree goes', async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('stat', ['claude']);
    git(dir, 'config', 'core.checkStat', 'minimal');
    git(dir, 'config', 'core.trustctime', 'false');
    const wt = worktrees.claude!;
    const file = path.join(wt, 'src/keep.ts');
    const old = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(file, old, old);
    const arepo = await openRepo(wt);
    await takeSnapshot(arepo, { kind: 'manual', message: 'stat cache primed' });
    const edited = 'export const KEEP = 2;\n';
    expect(edited.length).toBe(fs.statSync(file).size);
    fs.writeFileSync(file, edited); // in place: same inode, same size
    fs.utimesSync(file, old, old);
    // A snapshot now records nothing new: the stat cache says unchanged (the blind spot this test is about).
    await takeSnapshot(arepo, { kind: 'manual', message: 'the stat cache says unchanged' });
    const res = await cleanRace(repo, race);
    expect(cleanRefusal(res)).toBeNull();
    expect(res.attempts[0]).toMatchObject({ removed: true, kept: expect.arrayContaining(['src/keep.ts']) });
    // The edit is in the snapshot clean recorded before removing the worktree.
    const snap = await attemptSnapshot(repo, resolveRace(repo, 'stat').attempts[0]!);
    expect(snap!.id).toBe(res.attempts[0]!.snapshot);
    const v = await fileVersions(repo, race, 'src/keep.ts', { claude: snap!.tree });
    expect(v.attempts.claude!.toString()).toBe(edited);
    expect(fs.existsSync(wt)).toBe(false);
  });

  it('files written at the worktree\'s path while its removal waits for the worktree lock are not lost (the checked directory was moved aside)', async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('wait', ['claude']);
    const wt = worktrees.claude!;
    const lock = await holdWorktreesLock(repo);
    const cleaning = cleanRace(repo, race);
    const written: string[] = [];
    try {
      // The check is done and the removal waits: an editor's autosave or a dev server writes at the worktree's path.
      await until(lock.waiting, 'the removal to wait for worktrees.lock');
      for (let i = 0; i < 10; i++) {
        fs.mkdirSync(path.join(wt, 'out'), { recursive: true });
        fs.writeFileSync(path.join(wt, 'out', `save-${i}.txt`), `autosave ${i}\n`);
        written.push(`save-${i}.txt`);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await lock.release();
    }
    const res = await cleaning;
    for (const f of written) expect(fs.readFileSync(path.join(wt, 'out', f), 'utf8')).toBe(`autosave ${f.slice(5, -4)}\n`);
    // Not reported removed: the files at its path are in no snapshot, and clean says so (exit 3).
    expect(res.attempts[0]).toMatchObject({ removed: false });
    expect(res.attempts[0]!.reason).toMatch(/written at .* while it was removed/);
    expect(cleanRefusal(res)).toMatchObject({ code: 'WORKTREE_KEPT' });
    // What was checked is gone (no moved-aside copy left), and so are git's entry and the branch.
    expect(fs.readdirSync(path.dirname(wt)).filter((n) => n.includes('.ckpt-'))).toEqual([]);
    expect(fs.existsSync(path.join(wt, '.git'))).toBe(false);
    expect(git(dir, 'worktree', 'list', '--porcelain')).not.toContain(wt);
    expect(branchExists(dir, race.attempts[0]!.branch)).toBe(false);
  });

  it('what a removal killed after moving the worktree aside left is recovered: unread again, it is put back and checked; read again, it is deleted', async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('aside');
    const dead = spawnSync('true').pid!;
    // codex: killed after its bookkeeping (the entry pruned), while its files were deleted.
    fs.renameSync(worktrees.codex!, path.join(path.dirname(worktrees.codex!), `.codex.ckpt-checked-${dead}-0a1b2c3d`));
    // gemini: killed before its second reading, and its entry pruned since (another removal's prune): put back, but kept.
    write(worktrees.gemini!, { 'unread.txt': 'in no snapshot\n' });
    fs.renameSync(worktrees.gemini!, path.join(path.dirname(worktrees.gemini!), `.gemini.ckpt-removing-${dead}-0a1b2c3d`));
    git(dir, 'worktree', 'prune');
    // claude: killed between the rename and the second reading, with a file written just before the rename.
    write(worktrees.claude!, { 'late.txt': 'written between the check and the rename\n' });
    fs.renameSync(worktrees.claude!, path.join(path.dirname(worktrees.claude!), `.claude.ckpt-removing-${dead}-0a1b2c3d`));
    const res = await cleanRace(repo, race);
    const gemini = res.attempts.find((x) => x.attempt === 'gemini')!;
    expect(gemini).toMatchObject({ removed: false });
    expect(gemini.reason).toMatch(/not a git worktree any more/);
    expect(fs.readFileSync(path.join(worktrees.gemini!, 'unread.txt'), 'utf8')).toBe('in no snapshot\n');
    const claude = res.attempts.find((x) => x.attempt === 'claude')!;
    expect(claude).toMatchObject({ removed: true, kept: ['late.txt'] });
    expect((await fileVersions(repo, race, 'late.txt', { claude: claude.tree! })).attempts.claude!.toString()).toBe('written between the check and the rename\n');
    expect(res.attempts.find((x) => x.attempt === 'codex')).toMatchObject({ removed: true });
    expect(fs.readdirSync(path.dirname(worktrees.claude!)).filter((n) => n.includes('.ckpt-'))).toEqual([]);
  });

  it('an empty directory where an attempt\'s worktree should be (its race killed before `git worktree add`) is removed, not kept forever', async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('empty', ['claude']);
    const wt = worktrees.claude!;
    git(dir, 'worktree', 'remove', '--force', wt);
    fs.mkdirSync(wt);
    const res = await cleanRace(repo, race);
    expect(res.attempts[0]).toMatchObject({ removed: true, reason: null });
    expect(cleanRefusal(res)).toBeNull();
    expect(fs.existsSync(wt)).toBe(false);
    expect(branchExists(dir, race.attempts[0]!.branch)).toBe(false);
    // A directory holding anything at all is still kept.
    fs.mkdirSync(wt);
    write(wt, { 'precious.txt': 'in no snapshot\n' });
    const again = await cleanRace(repo, resolveRace(repo, 'empty'));
    expect(again.attempts[0]).toMatchObject({ removed: false });
    expect(fs.readFileSync(path.join(wt, 'precious.txt'), 'utf8')).toBe('in no snapshot\n');
  });

  it('an attempt\'s directory is made only under the worktree lock, right before `git worktree add`: a kill while it waits leaves none', async () => {
    const { dir, repo, race } = await makeFakeRace('claim', ['claude']);
    const wt = path.join(path.dirname(race.attempts[0]!.dir), 'late');
    const lock = await holdWorktreesLock(repo);
    const making = createAttemptWorktree(repo, { tree: race.base.tree, head: race.base.head, indexTree: race.base.indexTree }, wt, 'ckpt/race/claim/late');
    try {
      await until(lock.waiting, 'the worktree add to wait for worktrees.lock');
      expect(fs.existsSync(wt)).toBe(false);
    } finally {
      await lock.release();
    }
    await making;
    expect(fs.existsSync(path.join(wt, '.git'))).toBe(true);
    expect(git(dir, 'worktree', 'list', '--porcelain')).toContain(wt);
  });

  it('a file still being written: the worktree is kept (its bytes never match a snapshot), the writer\'s file intact', async () => {
    const { repo, race, worktrees } = await makeFakeRace('busy', ['claude']);
    const wt = worktrees.claude!;
    const writer = spawn(process.execPath, ['-e', "const fs = require('fs'); let i = 0; setInterval(() => fs.appendFileSync('busy.log.txt', `line ${i++}\\n`), 2)"], { cwd: wt, stdio: 'ignore' });
    try {
      while (!fs.existsSync(path.join(wt, 'busy.log.txt'))) await new Promise((r) => setTimeout(r, 20));
      const res = await cleanRace(repo, race);
      expect(res.attempts[0]).toMatchObject({ removed: false });
      expect(res.attempts[0]!.reason).toMatch(/differ from the snapshot just taken.*busy\.log\.txt/);
      expect(fs.existsSync(wt)).toBe(true);
    } finally {
      writer.kill('SIGKILL');
    }
    const lines = fs.readFileSync(path.join(wt, 'busy.log.txt'), 'utf8').trim().split('\n');
    expect(lines.every((l, i) => l === `line ${i}`)).toBe(true);
  });

  it('race --clean removes the worktrees through the same check; what the check wrote after the final snapshot is still recorded', async () => {
    const { dir } = raceRepo();
    const check = `${process.execPath} -e "require('fs').writeFileSync('written-by-check.txt', 'check output')"`;
    const plan = await planRace({ cwd: dir, task: 't', models: 'fast', check, clean: true, ckptBin: CLI });
    const race = await runRace(plan, { ckptBin: CLI, clean: true });
    const a = race.attempts[0]!;
    expect(race.cleaned).toBe(true);
    expect(race.warnings).toEqual([]);
    expect(fs.existsSync(a.dir)).toBe(false);
    expect(branchExists(dir, a.branch)).toBe(false);
    const repo = await openRepo(dir);
    // The attempt's final snapshot stays the one before the check…
    const fin = await attemptSnapshot(repo, a);
    expect((await fileVersions(repo, race, 'written-by-check.txt', { fast: fin!.tree })).attempts.fast).toBeNull();
    // …and the check's file is in the snapshot taken before the worktree went (the chain's tip).
    const tip = await attemptSnapshot(repo, { ...a, final: null });
    expect(tip!.message).toBe('before race clean');
    expect((await fileVersions(repo, race, 'written-by-check.txt', { fast: tip!.tree })).attempts.fast!.toString()).toBe('check output');
  }, 60_000);

  it('a process of the attempt still writing (an orphan of a dead race) is ended first; what it wrote is recorded, then the worktree goes', async () => {
    const { repo, race, worktrees } = await makeFakeRace('orphan', ['claude']);
    const wt = worktrees.claude!;
    const env = { ...process.env, CKPT_RACE_ID: 'orphan', CKPT_ATTEMPT: 'claude' };
    // Not a child of this process (an orphan, reparented), working from outside the worktree
    // (cwd /): found by its environment alone.
    const file = path.join(wt, 'orphan.txt');
    const pidFile = path.join(wt, '..', 'orphan.pid');
    const script = `process.on('SIGTERM', () => {}); const fs = require('fs'); fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); let i = 0; setInterval(() => fs.appendFileSync(${JSON.stringify(file)}, \`line \${i++}\\n\`), 2)`;
    spawn('sh', ['-c', '"$0" -e "$1" >/dev/null 2>&1 &', process.execPath, script], { cwd: '/', env, stdio: 'ignore' });
    for (let t = 0; t < 200 && !(fs.existsSync(file) && fs.existsSync(pidFile)); t++) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    try {
      const res = await cleanRace(repo, race);
      expect(res.attempts[0]).toMatchObject({ removed: true, ended: [pid], kept: ['orphan.txt'] });
      const snap = await attemptSnapshot(repo, resolveRace(repo, 'orphan').attempts[0]!);
      const bytes = (await fileVersions(repo, race, 'orphan.txt', { claude: snap!.tree })).attempts.claude!.toString().trim().split('\n');
      expect(bytes.every((l, i) => l === `line ${i}`)).toBe(true);
      expect(fs.existsSync(wt)).toBe(false);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ended by clean
      }
    }
  });

  it('a branch holding commits no snapshot of the attempt reaches is kept, though its worktree goes', async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('branch', ['claude', 'codex']);
    const branch = race.attempts[0]!.branch;
    const extra = git(dir, 'commit-tree', 'HEAD^{tree}', '-p', branch, '-m', 'a commit only the branch has').trim();
    git(dir, 'update-ref', `refs/heads/${branch}`, extra);
    fs.rmSync(worktrees.claude!, { recursive: true, force: true });
    const res = await cleanRace(repo, race);
    expect(res.attempts[0]).toMatchObject({ removed: true });
    expect(res.attempts[0]!.branchKept).toMatch(/in no snapshot of the attempt/);
    expect(git(dir, 'rev-parse', branch).trim()).toBe(extra);
    expect(res.attempts[1]).toMatchObject({ removed: true, branchKept: null });
    expect(branchExists(dir, race.attempts[1]!.branch)).toBe(false);
  });

  it('a nested repository in the attempt keeps the worktree: its own uncommitted work is in no snapshot', async () => {
    const { repo, race, worktrees } = await makeFakeRace('nested', ['claude']);
    const inner = path.join(worktrees.claude!, 'vendor/lib');
    fs.mkdirSync(inner, { recursive: true });
    git(inner, 'init', '-q');
    write(inner, { 'a.txt': 'committed\n' });
    git(inner, 'add', 'a.txt');
    git(inner, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'inner');
    write(inner, { 'a.txt': 'uncommitted inner work\n' });
    const res = await cleanRace(repo, race);
    expect(res.attempts[0]).toMatchObject({ removed: false });
    expect(res.attempts[0]!.reason).toMatch(/nested repositories.*vendor\/lib/);
    expect(fs.readFileSync(path.join(inner, 'a.txt'), 'utf8')).toBe('uncommitted inner work\n');
  });

  it('CLI: a worktree git no longer knows is kept; exit 3, the reason on stderr, nothing in it touched', async () => {
    const { dir, worktrees } = await makeFakeRace('cli', ['claude', 'codex']);
    fs.rmSync(path.join(worktrees.codex!, '.git'));
    write(worktrees.codex!, { 'precious.txt': 'in no snapshot\n' });
    const before = picture(worktrees.codex!);
    const r = spawnSync(process.execPath, [CLI, '-C', dir, 'race', 'clean'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status).toBe(3);
    expect(r.stdout).toContain('claude: removed');
    expect(r.stderr).toContain('not a git worktree any more');
    expect(r.stderr).toContain(worktrees.codex!);
    expect(picture(worktrees.codex!)).toEqual(before);
    expect(fs.existsSync(worktrees.claude!)).toBe(false);
    const json = spawnSync(process.execPath, [CLI, '-C', dir, 'race', 'clean', '--json'], { encoding: 'utf8' });
    expect(json.status).toBe(3);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'WORKTREE_KEPT' });
  });
});
