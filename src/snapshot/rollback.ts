/**
 * Rollback: make the worktree (or some paths of it) match a snapshot byte for
 * byte, recording first what it replaces so the rollback itself can be undone.
 *
 * Order of work, under the worktree lock:
 * 1. resolve the target; refuse hostile tree entries (`..`, `.git`);
 * 2. record a `pre-rollback` snapshot of the worktree as it is (C);
 * 3. diff C's tree against the target's (`git diff-tree -r`), and plan: every
 *    path to delete, write, re-link or re-mode;
 * 4. check the plan against the live worktree: anything in the way that C does
 *    not hold (an ignored file, a file inside a directory that must become a
 *    file, a symlinked parent) stops the rollback before any change;
 * 5. write a journal, apply (deletions, then writes through temp file +
 *    rename, then modes), remove only directories it emptied itself, drop the
 *    journal.
 *
 * The user's index, HEAD and ignored files are never touched.
 */
import { constants as fsc, existsSync, lstatSync, mkdirSync, readdirSync, rmdirSync, unlinkSync, chmodSync, openSync, writeSync, closeSync, renameSync, symlinkSync, readFileSync, rmSync, writeFileSync, readlinkSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { git, joinNul, splitNul } from '../git/exec.js';
import { readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';
import { parseTrailers } from './format.js';
import { withWorktreeLock } from './lock.js';
import { listSteps, resolveSnapshot, resolveTime } from './store.js';
import { captureTree, takeSnapshotLocked } from './take.js';

/** Options for {@link rollback}. */
export interface RollbackOptions {
  /** Step number, `-N`, or snapshot id (see resolveSnapshot). Default: undo the last agent step. */
  target?: string;
  /** A time instead of a target: `10 minutes ago`, an ISO date. */
  to?: string;
  /** Undo the most recent rollback (restore its `pre-rollback` snapshot). */
  undo?: boolean;
  /** Repository-relative paths (literal, directories match what is under them). Default: the whole tree. */
  paths?: string[];
  /** Plan and check only; change nothing and record nothing. */
  dryRun?: boolean;
  /** Agent to record on the pre-rollback snapshot (e.g. when a race pick applies an attempt). */
  reason?: string;
}

/** One change a rollback makes (or would make) to the worktree. */
export interface FileChange {
  /** Repository-relative path (UTF-8 text; bytes that are not UTF-8 shown as U+FFFD). */
  path: string;
  /** `write`: content (and mode) restored; `delete`: removed; `mode`: only the executable bit; `link`: symlink restored. */
  action: 'write' | 'delete' | 'mode' | 'link';
  /** git file mode before (`100644`, `100755`, `120000`) or null when absent. */
  from: string | null;
  /** git file mode after, or null when deleted. */
  to: string | null;
}

/** What {@link rollback} did (or would do, with `dryRun`). */
export interface RollbackResult {
  /** The snapshot restored. */
  target: Snapshot;
  /** The snapshot recording the state before the rollback (null on a dry run). */
  preRollback: Snapshot | null;
  /** The snapshot of the state the rollback produced (null on a dry run or when nothing changed). */
  result: Snapshot | null;
  changes: FileChange[];
  /** Files the target lacks but left in place, because the target's ignore rules ignore them. */
  kept: string[];
  /** Directories removed because the rollback emptied them. */
  removedDirs: string[];
  /** Gitlinks (nested repositories) left alone. */
  skipped: string[];
  dryRun: boolean;
  /** The paths limited to, or null for the whole tree. */
  paths: string[] | null;
  /** True when an interrupted rollback was finished first. */
  recovered: boolean;
}

interface Entry {
  rel: Buffer;
  display: string;
  srcMode: string;
  dstMode: string;
  dstOid: string;
}

interface Journal {
  version: 1;
  target: string;
  preRollback: string;
  paths: string[] | null;
  startedAt: number;
}

/**
 * Restores `repo`'s worktree, or `opts.paths` of it, to a snapshot.
 *
 * @throws CkptError `NO_SNAPSHOTS`, `SNAPSHOT_NOT_FOUND`, `NOTHING_TO_UNDO`,
 *   `INVALID_DURATION`, `PATH_NOT_FOUND` (a path in neither tree),
 *   `HOSTILE_TREE`, `ROLLBACK_WOULD_CLOBBER` (data: paths; nothing changed),
 *   `LOCKED`, `REF_RACE`, `FS_FAILED` (data: path; the journal and the
 *   pre-rollback snapshot let the next run finish or `--undo` revert).
 */
export async function rollback(repo: Repo, opts: RollbackOptions = {}): Promise<RollbackResult> {
  return withWorktreeLock(repo, async () => {
    const recovered = await recoverLocked(repo);
    const { target, paths } = await chooseTarget(repo, opts);
    return rollbackLocked(repo, target, paths, { dryRun: !!opts.dryRun, recovered, reason: opts.reason });
  });
}

async function chooseTarget(repo: Repo, opts: RollbackOptions): Promise<{ target: Snapshot; paths: string[] | null }> {
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths.map((p) => normalizeRel(p)) : null;
  if (opts.undo) {
    const steps = await listSteps(repo, { stats: false });
    const last = steps.find((s) => s.kind === 'pre-rollback');
    if (!last) throw new CkptError('NOTHING_TO_UNDO', 'no rollback to undo in this worktree', { hint: 'See the steps with `ckpt log`.' });
    let undoPaths: string[] | null = null;
    try {
      const raw = last.extra['Rollback-Paths'];
      if (raw) undoPaths = JSON.parse(raw) as string[] | null;
    } catch {
      undoPaths = null;
    }
    return { target: last, paths: paths ?? undoPaths };
  }
  if (opts.to) return { target: await resolveTime(repo, opts.to), paths };
  if (opts.target) return { target: await resolveSnapshot(repo, opts.target), paths };
  // No target: undo the last agent step, i.e. restore the snapshot before it.
  const steps = await listSteps(repo, { stats: false });
  if (steps.length === 0) throw new CkptError('NO_SNAPSHOTS', `no snapshots yet for ${repo.worktree}`, { hint: 'Take one with `ckpt snap`, or run `ckpt watch` while an agent works.' });
  const idx = steps.findIndex((s) => (s.kind === 'after' || s.kind === 'auto' || s.kind === 'manual') && s.agent !== 'ckpt');
  const before = idx >= 0 ? steps[idx + 1] : undefined;
  if (!before) throw new CkptError('NOTHING_TO_UNDO', 'no agent step with a snapshot before it', { hint: 'Name a step: `ckpt rollback <step>` (see `ckpt log`).' });
  return { target: before, paths };
}

/**
 * The rollback proper, for callers already holding the worktree lock (race
 * pick uses it to apply an attempt).
 */
export async function rollbackLocked(
  repo: Repo,
  target: Snapshot,
  paths: string[] | null,
  o: { dryRun: boolean; recovered?: boolean; reason?: string | undefined; preRollback?: Snapshot; message?: string },
): Promise<RollbackResult> {
  let currentTree: string;
  let pre: Snapshot | null = o.preRollback ?? null;
  if (o.dryRun) {
    currentTree = await captureTree(repo);
  } else if (pre) {
    currentTree = pre.tree;
  } else {
    const taken = await takeSnapshotLocked(repo, {
      kind: 'pre-rollback',
      force: true,
      message: `before rollback to step ${target.step}${paths ? ` (${paths.join(', ')})` : ''}`,
      agent: o.reason ?? 'ckpt',
      extra: { 'Rollback-Target': target.id, 'Rollback-Paths': JSON.stringify(paths) },
    });
    pre = taken.snapshot;
    currentTree = pre.tree;
  }
  if (paths) await checkPathsExist(repo, paths, [currentTree, target.tree]);
  const entries = await diffTrees(repo, currentTree, target.tree, paths);
  const plan = await planChanges(repo, entries, currentTree, target.tree);
  const result: RollbackResult = {
    target,
    preRollback: pre,
    result: null,
    changes: plan.changes,
    kept: plan.kept.map((e) => e.display),
    removedDirs: [],
    skipped: plan.skipped,
    dryRun: o.dryRun,
    paths,
    recovered: !!o.recovered,
  };
  if (o.dryRun || plan.changes.length === 0) return result;
  const journalPath = path.join(repo.stateDir, 'journal.json');
  const journal: Journal = { version: 1, target: target.id, preRollback: pre!.id, paths, startedAt: Date.now() };
  writeFileSync(journalPath, JSON.stringify(journal));
  result.removedDirs = await applyPlan(repo, plan);
  rmSync(journalPath, { force: true });
  // Record what the rollback produced, so the log shows it and a watcher
  // does not mistake it for an agent's step.
  const after = await takeSnapshotLocked(repo, {
    kind: 'rollback',
    force: true,
    agent: o.reason ?? 'ckpt',
    message: o.message ?? `rolled back to step ${target.step}${paths ? ` (${paths.join(', ')})` : ''}`,
    extra: { 'Rollback-Target': target.id },
  }, { onlyPaths: [...plan.deletes, ...plan.writes, ...plan.modes].map((e) => e.rel) });
  result.result = after.snapshot;
  return result;
}

/**
 * Finishes a rollback that a crash interrupted (its journal is still there):
 * the worktree is brought to the journal's target. Returns true if it did.
 */
async function recoverLocked(repo: Repo): Promise<boolean> {
  const journalPath = path.join(repo.stateDir, 'journal.json');
  if (!existsSync(journalPath)) return false;
  let journal: Journal;
  try {
    journal = JSON.parse(readFileSync(journalPath, 'utf8')) as Journal;
  } catch {
    rmSync(journalPath, { force: true });
    return false;
  }
  const target = await resolveSnapshot(repo, journal.target);
  // The interrupted run's pre-rollback snapshot holds what it replaced. What
  // changed since the crash (a half-restored file edited again, a new file)
  // is in no snapshot yet: record the live state as a second pre-rollback
  // snapshot before finishing, so nothing is overwritten unrecorded.
  await rollbackLocked(repo, target, journal.paths, {
    dryRun: false,
    reason: 'ckpt',
    message: `finished the interrupted rollback to step ${target.step}`,
  });
  rmSync(journalPath, { force: true });
  return true;
}

function normalizeRel(p: string): string {
  const norm = path.posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (norm === '' || norm === '.' || norm.startsWith('../') || norm === '..' || path.posix.isAbsolute(norm)) {
    throw new CkptError('INVALID_ARGUMENT', `path outside the worktree: ${JSON.stringify(p)}`, { hint: 'Give paths inside the worktree.' });
  }
  return norm;
}

async function checkPathsExist(repo: Repo, paths: string[], trees: string[]): Promise<void> {
  const seen = new Set<string>();
  for (const tree of trees) {
    const { stdout } = await git(['ls-tree', '-r', '-z', '--name-only', '--full-tree', tree, '--', ...paths], {
      cwd: repo.worktree,
      env: { ...shadowEnv(repo), GIT_LITERAL_PATHSPECS: '1' },
    });
    for (const rec of splitNul(stdout)) {
      const name = rec.toString('utf8');
      for (const p of paths) if (name === p || name.startsWith(p + '/')) seen.add(p);
    }
  }
  const missing = paths.filter((p) => !seen.has(p));
  if (missing.length > 0) {
    throw new CkptError('PATH_NOT_FOUND', `not in the current state nor in the target: ${missing.join(', ')}`, {
      hint: 'Paths are relative to the worktree root; check the names with `ckpt diff --stat`.',
      data: { paths: missing },
    });
  }
}

/** `git diff-tree -r -z --raw` between two trees, as entries with raw path bytes. */
export async function diffTrees(repo: Repo, from: string, to: string, paths: string[] | null): Promise<Entry[]> {
  const args = ['diff-tree', '-r', '-z', '--no-renames', '--raw', '--full-index', from, to];
  if (paths) args.push('--', ...paths);
  const { stdout } = await git(args, { cwd: repo.worktree, env: { ...shadowEnv(repo), GIT_LITERAL_PATHSPECS: '1' } });
  const recs = splitNul(stdout);
  const out: Entry[] = [];
  for (let i = 0; i + 1 < recs.length; i += 2) {
    const meta = recs[i]!.toString('utf8');
    const rel = recs[i + 1]!;
    const [srcMode, dstMode, , dstOid] = meta.slice(1).split(' ');
    out.push({ rel, display: rel.toString('utf8'), srcMode: srcMode!, dstMode: dstMode!, dstOid: dstOid! });
  }
  return out;
}

interface Plan {
  deletes: Entry[];
  writes: Entry[];
  modes: Entry[];
  kept: Entry[];
  /** Directories (raw rel paths) that must be emptied and removed so a file can take their place. */
  clearDirs: Buffer[];
  skipped: string[];
  changes: FileChange[];
}

const FILE_MODES = new Set(['100644', '100755', '120000']);

async function planChanges(repo: Repo, entries: Entry[], fromTree: string, toTree: string): Promise<Plan> {
  const plan: Plan = { deletes: [], writes: [], modes: [], kept: [], clearDirs: [], skipped: [], changes: [] };
  for (const e of entries) checkHostile(e);
  for (const e of entries) {
    const src = e.srcMode === '000000' ? null : e.srcMode;
    const dst = e.dstMode === '000000' ? null : e.dstMode;
    if (src === '160000' || dst === '160000') {
      plan.skipped.push(`${e.display}: nested repository (gitlink) left as it is`);
      continue;
    }
    if (dst === null) plan.deletes.push(e);
    else plan.writes.push(e);
  }
  // Mode-only changes: same blob, different executable bit.
  const modeOnly = await sameBlobs(repo, fromTree, plan.writes);
  plan.modes = plan.writes.filter((e) => modeOnly.has(e.display));
  plan.writes = plan.writes.filter((e) => !modeOnly.has(e.display));

  // Deletions the target's ignore rules ignore: the file predates the step, keep it.
  if (plan.deletes.length > 0 && entries.some((e) => basenameOf(e.display) === '.gitignore')) {
    const ignored = await ignoredUnderTarget(repo, toTree, plan.deletes);
    plan.kept = plan.deletes.filter((e) => ignored.has(e.display));
    plan.deletes = plan.deletes.filter((e) => !ignored.has(e.display));
  }
  checkAgainstWorktree(repo, plan);
  for (const e of plan.deletes) plan.changes.push({ path: e.display, action: 'delete', from: e.srcMode, to: null });
  for (const e of plan.writes) plan.changes.push({ path: e.display, action: e.dstMode === '120000' ? 'link' : 'write', from: e.srcMode === '000000' ? null : e.srcMode, to: e.dstMode });
  for (const e of plan.modes) plan.changes.push({ path: e.display, action: 'mode', from: e.srcMode, to: e.dstMode });
  plan.changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return plan;
}

function checkHostile(e: Entry): void {
  const parts = e.display.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..' || part.toLowerCase() === '.git') {
      throw new CkptError('HOSTILE_TREE', `the snapshot holds a path that must never be written: ${JSON.stringify(e.display)}`, {
        hint: 'Nothing was changed. The snapshot was not made by ckpt, or was tampered with.',
        data: { path: e.display },
      });
    }
  }
}

async function sameBlobs(repo: Repo, fromTree: string, writes: Entry[]): Promise<Set<string>> {
  const candidates = writes.filter((e) => (e.srcMode === '100644' || e.srcMode === '100755') && (e.dstMode === '100644' || e.dstMode === '100755') && e.srcMode !== e.dstMode);
  const out = new Set<string>();
  if (candidates.length === 0) return out;
  const names = candidates.map((e) => `${fromTree}:${e.display}`);
  const objs = await readObjects(names.filter((n) => !n.includes('\n')), { cwd: repo.worktree, env: shadowEnv(repo) });
  for (const e of candidates) {
    const o = objs.get(`${fromTree}:${e.display}`);
    if (o && o.oid === e.dstOid) out.add(e.display);
  }
  return out;
}

/**
 * Which of `deletes` the target tree's `.gitignore` files (plus
 * `.git/info/exclude` and `core.excludesFile`) ignore. The target's ignore
 * files are laid out in a temporary directory and asked with
 * `git check-ignore --no-index` (git-check-ignore(1)).
 */
async function ignoredUnderTarget(repo: Repo, toTree: string, deletes: Entry[]): Promise<Set<string>> {
  const { stdout } = await git(['ls-tree', '-r', '-z', '--full-tree', toTree], { cwd: repo.worktree, env: shadowEnv(repo) });
  const ignoreFiles: { rel: string; oid: string }[] = [];
  for (const rec of splitNul(stdout)) {
    const s = rec.toString('utf8');
    const tab = s.indexOf('\t');
    const rel = s.slice(tab + 1);
    if (basenameOf(rel) === '.gitignore' && s.startsWith('100')) ignoreFiles.push({ rel, oid: s.slice(0, tab).split(' ')[2]! });
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ckpt-ignore-'));
  try {
    const blobs = await readObjects(ignoreFiles.map((f) => f.oid), { cwd: repo.worktree, env: shadowEnv(repo) });
    for (const f of ignoreFiles) {
      const dest = path.join(tmp, f.rel);
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, blobs.get(f.oid)?.content ?? Buffer.alloc(0));
    }
    const input = joinNul(deletes.map((e) => e.rel));
    const res = await git(['check-ignore', '-z', '--stdin', '--no-index'], {
      cwd: tmp,
      env: { ...shadowEnv(repo), GIT_WORK_TREE: tmp },
      input,
      okCodes: [0, 1],
    });
    return new Set(splitNul(res.stdout).map((b) => b.toString('utf8')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function basenameOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

function abs(repo: Repo, rel: Buffer): Buffer {
  return Buffer.concat([Buffer.from(repo.worktree + '/'), rel]);
}

type Kind = 'missing' | 'file' | 'dir' | 'link' | 'other';

function kindOf(p: Buffer): Kind {
  try {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return 'link';
    if (st.isDirectory()) return 'dir';
    if (st.isFile()) return 'file';
    return 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw fsError(err, p);
  }
}

/**
 * Refuses, before anything changes, every write or delete that would destroy
 * something the pre-rollback snapshot does not hold.
 */
function checkAgainstWorktree(repo: Repo, plan: Plan): void {
  const deleting = new Set(plan.deletes.map((e) => e.display));
  const inCurrent = new Set([...plan.deletes, ...plan.writes, ...plan.modes].filter((e) => e.srcMode !== '000000').map((e) => e.display));
  const problems: string[] = [];
  const checkedDirs = new Set<string>();
  for (const e of plan.writes) {
    // Every parent must be a real directory, missing, or a file this rollback deletes.
    for (const a of ancestors(e.rel).reverse()) {
      const key = a.toString('latin1');
      const parent = a.toString('utf8');
      if (checkedDirs.has(key)) continue;
      const k = kindOf(abs(repo, a));
      if (k === 'dir' || k === 'missing') {
        checkedDirs.add(key);
        if (k === 'missing') break;
        continue;
      }
      if (deleting.has(parent)) break; // a file (or link) that becomes a directory
      problems.push(`${parent} is in the way of ${e.display} and is not in any snapshot (${k === 'link' ? 'a symlink' : 'an ignored file'})`);
      break;
    }
    const here = kindOf(abs(repo, e.rel));
    if (here === 'dir') {
      // A directory becoming a file: everything in it must be something this rollback deletes.
      const leftovers = leftoversIn(abs(repo, e.rel), e.display, deleting);
      if (leftovers.length > 0) problems.push(...leftovers.map((l) => `${l} would be deleted to make room for the file ${e.display}, and is not in any snapshot (ignored?)`));
      else plan.clearDirs.push(e.rel);
    } else if (here === 'other') {
      problems.push(`${e.display} is a FIFO, socket or device`);
    } else if (here !== 'missing' && !inCurrent.has(e.display)) {
      // Something the current snapshot does not hold (ignored, or new since): keep it unless identical.
      problems.push(`${e.display} exists but is not in the current snapshot (ignored?), and would be overwritten`);
    }
  }
  for (const e of plan.deletes) {
    const k = kindOf(abs(repo, e.rel));
    if (k === 'dir') problems.push(`${e.display} became a directory since the snapshot`);
  }
  if (problems.length > 0) {
    throw new CkptError('ROLLBACK_WOULD_CLOBBER', `rollback refused, it would destroy what it cannot restore:\n  ${problems.join('\n  ')}`, {
      hint: 'Nothing was changed. Move those files aside (or roll back only some paths: `ckpt rollback STEP -- PATH…`) and try again.',
      data: { paths: problems },
    });
  }
}

function leftoversIn(dir: Buffer, rel: string, deleting: Set<string>): string[] {
  const out: string[] = [];
  let names: Buffer[];
  try {
    names = readdirSync(dir, { encoding: 'buffer' });
  } catch (err) {
    throw fsError(err, dir);
  }
  for (const name of names) {
    const childRel = `${rel}/${name.toString('utf8')}`;
    const child = Buffer.concat([dir, Buffer.from('/'), name]);
    const k = kindOf(child);
    if (k === 'dir') out.push(...leftoversIn(child, childRel, deleting));
    else if (!deleting.has(childRel)) out.push(childRel);
  }
  return out;
}

async function applyPlan(repo: Repo, plan: Plan): Promise<string[]> {
  const blobs = await readObjects([...new Set(plan.writes.map((e) => e.dstOid))], { cwd: repo.worktree, env: shadowEnv(repo) });
  const removedDirs: string[] = [];
  const writeDirs = new Set<string>(); // latin1 keys: byte-exact
  for (const e of plan.writes) for (const d of ancestors(e.rel)) writeDirs.add(d.toString('latin1'));
  // 1. Deletions, deepest first; then the directories they emptied.
  const emptied = new Map<string, Buffer>();
  for (const e of [...plan.deletes].sort((x, y) => depth(y.display) - depth(x.display))) {
    try {
      unlinkSync(abs(repo, e.rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, abs(repo, e.rel));
    }
    for (const d of ancestors(e.rel)) emptied.set(d.toString('latin1'), d);
  }
  for (const dir of plan.clearDirs) removeEmptyTree(abs(repo, dir));
  for (const [key, rel] of [...emptied].sort((x, y) => y[1].length - x[1].length)) {
    if (writeDirs.has(key)) continue;
    try {
      rmdirSync(abs(repo, rel));
      removedDirs.push(rel.toString('utf8'));
    } catch {
      // Not empty (holds ignored or other files) or already gone: leave it.
    }
  }
  // 2. Writes: parents created as needed, content through a temp file and rename.
  for (const e of plan.writes) {
    const dest = abs(repo, e.rel);
    const slash = e.rel.lastIndexOf(0x2f);
    if (slash > 0) mkdirSync(abs(repo, e.rel.subarray(0, slash)), { recursive: true });
    const blob = blobs.get(e.dstOid);
    if (!blob) throw new CkptError('INTERNAL', `object ${e.dstOid} for ${e.display} is missing`, { hint: 'Run `git fsck`.' });
    if (e.dstMode === '120000') {
      if (kindOf(dest) !== 'missing') unlinkSync(dest);
      symlinkSync(blob.content, dest);
    } else {
      writeFileAtomically(dest, blob.content, e.dstMode === '100755');
    }
  }
  // 3. Executable bits.
  for (const e of plan.modes) {
    const dest = abs(repo, e.rel);
    const st = lstatSync(dest);
    chmodSync(dest, withExec(st.mode & 0o7777, e.dstMode === '100755'));
  }
  return removedDirs;
}

function removeEmptyTree(dir: Buffer): void {
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const child = Buffer.concat([dir, Buffer.from('/'), name]);
    if (kindOf(child) === 'dir') removeEmptyTree(child);
  }
  rmdirSync(dir); // fails (and stops the rollback) if anything is left: never forced
}

/** The proper ancestors of a relative path, deepest first (`a/b/c` → `a/b`, `a`). */
function ancestors(rel: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = rel.length - 1; i > 0; i--) if (rel[i] === 0x2f) out.push(rel.subarray(0, i));
  return out;
}

function depth(p: string): number {
  let n = 0;
  for (const c of p) if (c === '/') n++;
  return n;
}

let cachedUmask: number | undefined;
function umask(): number {
  if (cachedUmask === undefined) {
    cachedUmask = process.umask();
  }
  return cachedUmask;
}

function withExec(mode: number, exec: boolean): number {
  return exec ? mode | ((mode & 0o444) >> 2) : mode & ~0o111;
}

/**
 * Writes `content` to `dest` through a temp file in the same directory and a
 * rename, so no reader ever sees half a file. An existing regular file keeps
 * its permission bits (only the executable bit follows the snapshot); new
 * files get 0666/0777 less the umask, as git checkout does.
 */
function writeFileAtomically(dest: Buffer, content: Buffer, exec: boolean): void {
  let mode = (exec ? 0o777 : 0o666) & ~umask();
  try {
    const st = lstatSync(dest);
    if (st.isSymbolicLink()) unlinkSync(dest);
    else if (st.isFile()) mode = withExec(st.mode & 0o777, exec);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, dest);
  }
  const tmp = Buffer.concat([dest, Buffer.from(`.ckpt-${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`)]);
  try {
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    try {
      let off = 0;
      while (off < content.length) off += writeSync(fd, content, off, content.length - off);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, dest);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw fsError(err, dest);
  }
}

function fsError(err: unknown, p: Buffer | string): CkptError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const shown = typeof p === 'string' ? p : p.toString('utf8');
  return new CkptError('FS_FAILED', `${code} on ${shown}`, {
    cause: err,
    hint: code === 'ENOSPC' ? 'The disk is full; free space, then run `ckpt rollback --undo` or repeat the rollback.' : 'Check permissions; the pre-rollback snapshot holds the previous state (`ckpt rollback --undo`).',
    data: { path: shown, errno: code },
  });
}

/** For tests: the raw symlink target bytes of a path. */
export function readLinkBytes(p: string): Buffer {
  return readlinkSync(p, { encoding: 'buffer' });
}

/** Reads trailers of a snapshot (exported for the CLI's rollback report). */
export function rollbackInfo(s: Snapshot): { target: string | null; paths: string[] | null } {
  const tr = parseTrailers(`x\n\n${Object.entries(s.extra).map(([k, v]) => `${k}: ${v}`).join('\n')}`);
  let paths: string[] | null = null;
  try {
    paths = JSON.parse(tr.get('Rollback-Paths') ?? 'null') as string[] | null;
  } catch {
    paths = null;
  }
  return { target: tr.get('Rollback-Target') ?? null, paths };
}
