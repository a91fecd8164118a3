/**
 * Taking a snapshot: the worktree as it is (tracked and untracked files,
 * ignore rules respected, raw bytes, executable bits, symlinks as links) into a
 * commit on the worktree's hidden ref. The user's index, HEAD, branches, stash
 * and files are never touched.
 *
 * How (native git plumbing, one commit object written in process; see
 * docs/architecture.md for the measurements behind each choice):
 * 1. `git add -A` into a private index that persists per worktree, so git's
 *    stat cache makes a re-snapshot cost a `stat` per file plus hashing only
 *    what changed. On first use it is seeded from a copy of the user's index,
 *    which already holds fresh stat data (pingdotgg/t3code#3646).
 * 2. `git write-tree`; if the tree, HEAD and index equal the last snapshot's,
 *    nothing new is recorded.
 * 3. The commit object is written in process (git/loose.ts: no git process
 *    for one small object), then `git update-ref REF NEW OLD` (fails if
 *    another process moved the ref: no lost update).
 */
import { copyFileSync, existsSync, lstatSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CkptError, isCkptError } from '../core/errors.js';
import type { Snapshot, SnapshotInput } from '../core/types.js';
import { git, gitText, gitWithPaths, joinNul, splitNul } from '../git/exec.js';
import { readLooseObject, readRefFast, writeCommit } from '../git/loose.js';
import { readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { decodeSnapshot, encodeIndexMessage, encodeMessage, parseCommit } from './format.js';
import { withWorktreeLock, type LockOptions } from './lock.js';
import { readState, writeState } from './state.js';

/** What {@link takeSnapshot} returns. */
export interface TakeResult {
  /** The snapshot now at the tip of the chain. */
  snapshot: Snapshot;
  /** False when nothing changed since the last snapshot and none was recorded. */
  created: boolean;
  /** What was not captured, one line each: nested repositories stored as gitlinks (their own uncommitted changes are not), FIFOs, sockets and devices. */
  warnings: string[];
}

/**
 * Takes a snapshot of `repo`'s worktree under its worktree lock.
 *
 * @param lock how long to wait for the worktree lock (default 10 s).
 * @returns the new snapshot, or the previous one with `created: false` when the
 *   worktree, HEAD and the user's index are unchanged (unless `input.force`).
 * @throws CkptError `LOCKED`, `REF_RACE` (another process moved the ref),
 *   `GIT_FAILED` (git refused to read the worktree: a nested repository with no
 *   commit, an unreadable file), `FS_FAILED`.
 */
export async function takeSnapshot(repo: Repo, input: SnapshotInput, lock: LockOptions = {}): Promise<TakeResult> {
  return withWorktreeLock(repo, () => takeSnapshotLocked(repo, input), lock);
}

/** The tip of the chain and HEAD, read in one `cat-file --batch`. */
export interface ChainTip {
  tip: Snapshot | null;
  head: string | null;
  headRef: string | null;
}

/**
 * Reads the current tip snapshot and HEAD of `repo`: from the ref files and
 * the loose object when it can (the tip was usually just written, loose), else
 * with one `git cat-file --batch`.
 *
 * @throws CkptError `INTERNAL` when the ref points at something that is not a
 *   ckpt snapshot; `GIT_FAILED`.
 */
export async function readTip(repo: Repo): Promise<ChainTip> {
  const headRef = readHeadRef(repo);
  const head = readRefFast(repo, 'HEAD');
  const tipOid = readRefFast(repo, repo.ref);
  let tipRaw: { oid: string; type: string; content: Buffer } | null | undefined;
  if (tipOid === null) tipRaw = null;
  else if (tipOid !== undefined) {
    const obj = readLooseObject(repo, tipOid);
    if (obj) tipRaw = { oid: tipOid, ...obj };
  }
  let headOid = head;
  if (tipRaw === undefined || headOid === undefined) {
    const objs = await readObjects(['HEAD', repo.ref], { cwd: repo.worktree, env: realEnv(repo) });
    const headObj = objs.get('HEAD');
    headOid = headObj && headObj.type === 'commit' ? headObj.oid : null;
    tipRaw = objs.get(repo.ref) ?? null;
  }
  let tip: Snapshot | null = null;
  if (tipRaw && tipRaw.type === 'commit') {
    tip = decodeSnapshot(parseCommit(tipRaw.oid, tipRaw.content));
    if (!tip) {
      throw new CkptError('INTERNAL', `${repo.ref} does not point at a ckpt snapshot`, {
        hint: 'The ref was written by something else, or by a newer ckpt. Inspect it with `git log ' + repo.ref + '`.',
      });
    }
  }
  return { tip, head: headOid, headRef };
}

function readHeadRef(repo: Repo): string | null {
  try {
    const text = readFileSync(path.join(repo.gitDir, 'HEAD'), 'utf8').trim();
    return text.startsWith('ref: ') ? text.slice(5) : null;
  } catch {
    return null;
  }
}

/**
 * Writes the worktree into the private index and returns its tree id, without
 * recording anything. Caller must hold the worktree lock.
 *
 * @param onlyPaths when given, only these worktree-relative paths are re-read
 *   (`git add -A -- PATHS`): for a caller that knows exactly what it changed,
 *   such as rollback recording its result. Everything else keeps the private
 *   index's entries. When git refuses the list (a path now ignored, say), the
 *   whole worktree is read instead.
 */
export async function captureTree(repo: Repo, onlyPaths?: readonly (string | Buffer)[]): Promise<string> {
  return (await captureTreeReporting(repo, onlyPaths)).tree;
}

/**
 * {@link captureTree}, also returning the paths it had to leave out: a path
 * the index held that is now a FIFO, a socket or a device, which git refuses
 * to add (reliability note 10: skipped and reported, never opened).
 */
async function captureTreeReporting(repo: Repo, onlyPaths?: readonly (string | Buffer)[]): Promise<{ tree: string; skipped: string[] }> {
  const index = path.join(repo.stateDir, 'index');
  const env = shadowEnv(repo, index);
  if (!existsSync(index) && existsSync(repo.userIndex)) {
    // Seed the stat cache from the user's index: most files then need no re-hash.
    copyFileSync(repo.userIndex, index);
  }
  const skipped: string[] = [];
  let added: string | null = null;
  if (onlyPaths && existsSync(index)) {
    if (onlyPaths.length === 0) return { tree: await gitText(['write-tree'], { cwd: repo.worktree, env }), skipped };
    const res = await gitWithPaths(['add', '-A', '--verbose'], onlyPaths, { cwd: repo.worktree, env, okCodes: [0, 1, 128] });
    if (res.exitCode === 0) added = res.stdout.toString('utf8');
  }
  for (let attempt = 1; added === null; attempt++) {
    try {
      added = (await git(['add', '-A', '--verbose'], { cwd: repo.worktree, env })).stdout.toString('utf8');
    } catch (err) {
      // A seeded index git cannot use here (split index, unknown extension):
      // start from an empty one. A file that vanished mid-scan: scan again.
      // An indexed path that became a FIFO, socket or device: drop it, say so.
      if (attempt >= 4 || !isCkptError(err, 'GIT_FAILED')) throw err;
      const stderr = String(err.data.stderr);
      if (/can only add regular files/i.test(stderr)) {
        const special = await dropSpecialFiles(repo, env);
        if (special.length === 0) throw err;
        skipped.push(...special);
      } else if (attempt === 1 && existsSync(index) && /index|sharedindex|extension/i.test(stderr)) rmSync(index, { force: true });
    }
  }
  await syncIgnoreRules(repo, env, /(^|[/' ])\.gitignore'?$/m.test(added));
  return { tree: await gitText(['write-tree'], { cwd: repo.worktree, env }), skipped };
}

/**
 * What is at `rel` (bytes, worktree-relative): null when nothing is, true for
 * what git can store (a file, a symlink, a directory), false for a FIFO, a
 * socket or a device.
 */
function storableAt(repo: Repo, rel: Buffer): boolean | null {
  try {
    const st = lstatSync(Buffer.concat([Buffer.from(repo.worktree + '/'), rel]));
    return st.isFile() || st.isSymbolicLink() || st.isDirectory();
  } catch {
    return null;
  }
}

/** Removes from the private index the paths that are now FIFOs, sockets or devices; returns them. */
async function dropSpecialFiles(repo: Repo, env: Record<string, string | undefined>): Promise<string[]> {
  const indexed = splitNul((await git(['ls-files', '-z', '--cached'], { cwd: repo.worktree, env })).stdout);
  const special = indexed.filter((rel) => storableAt(repo, rel) === false);
  await unindex(repo, env, special);
  return special.map((p) => p.toString('utf8'));
}

/**
 * Drops `paths` from the private index, leaving the files alone. Forced: git
 * otherwise refuses an entry whose content differs from both the file and
 * the shadow dir's HEAD, which for the private index means nothing.
 */
async function unindex(repo: Repo, env: Record<string, string | undefined>, paths: readonly Buffer[]): Promise<void> {
  if (paths.length > 0) await gitWithPaths(['rm', '--cached', '-f', '-q', '--ignore-unmatch'], paths, { cwd: repo.worktree, env });
}

/**
 * Keeps the private index in line with what git itself would call the
 * worktree's content: files the user tracks (even if an ignore rule matches
 * them) plus untracked files no rule ignores. `git add -A` alone keeps
 * updating every path once indexed, so when the ignore rules or the user's
 * index change, entries now ignored (and not tracked by the user) are dropped,
 * and files the user tracks despite an ignore rule are added by force.
 */
async function syncIgnoreRules(repo: Repo, env: Record<string, string | undefined>, gitignoreChanged: boolean): Promise<void> {
  const state = readState(repo);
  const sig = userIndexSig(repo);
  let excludesFile = state.excludesFile ?? null;
  let excludeSig = excludeSources(repo, excludesFile).map(fileSig).join('|');
  if (!gitignoreChanged && (state.ignoreSyncedIndexSig ?? null) === sig && state.excludeSig === excludeSig) return;
  if (state.excludeSig !== excludeSig) {
    // A config file or an excludes file changed: find core.excludesFile again (git-config(1) --path).
    const res = await git(['config', '--path', '--get', 'core.excludesFile'], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
    excludesFile = res.exitCode === 0 ? path.resolve(repo.worktree, res.stdout.toString('utf8').trim()) : null;
    excludeSig = excludeSources(repo, excludesFile).map(fileSig).join('|');
  }
  const userTracked = sig === null ? [] : splitNul((await git(['ls-files', '-z', '--cached', '--ignored', '--exclude-standard'], { cwd: repo.worktree, env: realEnv(repo) })).stdout);
  const userSet = new Set(userTracked.map((b) => b.toString('latin1')));
  const ours = splitNul((await git(['ls-files', '-z', '--cached', '--ignored', '--exclude-standard'], { cwd: repo.worktree, env })).stdout);
  await unindex(repo, env, ours.filter((b) => !userSet.has(b.toString('latin1'))));
  const oursSet = new Set(ours.map((b) => b.toString('latin1')));
  const add = userTracked.filter((p) => !oursSet.has(p.toString('latin1')) && storableAt(repo, p) === true);
  if (add.length > 0) await gitWithPaths(['add', '-f'], add, { cwd: repo.worktree, env });
  if ((state.ignoreSyncedIndexSig ?? null) !== sig) await syncSkipWorktree(repo, env, sig !== null);
  // Record the signatures seen, keeping the index-commit cache (indexCommit() owns it).
  await writeState(repo, { ...readState(repo), excludeSig, excludesFile, ignoreSyncedIndexSig: sig ?? undefined });
}

/** Stage-0 entries flagged skip-worktree (`S` in git-ls-files(1) `-t`): path (latin1) → the `--index-info` line. */
async function skipWorktreeEntries(repo: Repo, env: Record<string, string | undefined>): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const rec of splitNul((await git(['ls-files', '-z', '-t', '-s'], { cwd: repo.worktree, env })).stdout)) {
    // "S <mode> <oid> <stage>\t<path>"
    if (rec[0] !== 0x53 || rec[1] !== 0x20) continue;
    const tab = rec.indexOf(0x09);
    const [mode, oid, stage] = rec.subarray(2, tab).toString('latin1').split(' ');
    if (stage !== '0') continue;
    const rel = rec.subarray(tab + 1);
    out.set(rel.toString('latin1'), Buffer.concat([Buffer.from(`${mode} ${oid}\t`, 'latin1'), rel]));
  }
  return out;
}

/**
 * Mirrors the user's sparse checkout in the private index (reliability note
 * 13): paths the user's index marks skip-worktree are not in the worktree on
 * purpose, so they keep their indexed content and the flag (`git add -A`
 * then leaves them alone, and a rollback never materialises them); paths no
 * longer flagged lose the flag and are read again.
 */
async function syncSkipWorktree(repo: Repo, env: Record<string, string | undefined>, hasUserIndex: boolean): Promise<void> {
  const theirs = hasUserIndex ? await skipWorktreeEntries(repo, realEnv(repo)) : new Map<string, Buffer>();
  const ours = await skipWorktreeEntries(repo, env);
  const toSet = [...theirs.keys()].filter((k) => !ours.has(k));
  const toClear = [...ours.keys()].filter((k) => !theirs.has(k));
  if (toSet.length > 0) {
    await git(['update-index', '-z', '--index-info'], { cwd: repo.worktree, env, input: joinNul(toSet.map((k) => theirs.get(k)!)) });
    await git(['update-index', '-z', '--skip-worktree', '--stdin'], { cwd: repo.worktree, env, input: joinNul(toSet.map((k) => Buffer.from(k, 'latin1'))) });
  }
  if (toClear.length > 0) {
    const paths = toClear.map((k) => Buffer.from(k, 'latin1'));
    await git(['update-index', '-z', '--no-skip-worktree', '--stdin'], { cwd: repo.worktree, env, input: joinNul(paths) });
    await gitWithPaths(['add', '-A'], paths, { cwd: repo.worktree, env, okCodes: [0, 1] });
  }
}

/**
 * The files besides `.gitignore`s whose change can change what git ignores
 * (gitignore(5)): `info/exclude`, the config files that can set
 * `core.excludesFile` (git-config(1) "FILES"), its default location, and the
 * excludes file in use.
 */
function excludeSources(repo: Repo, excludesFile: string | null): string[] {
  const home = homedir();
  const xdg = process.env.XDG_CONFIG_HOME || path.join(home, '.config');
  const list = [
    path.join(repo.commonDir, 'info', 'exclude'),
    path.join(repo.commonDir, 'config'),
    process.env.GIT_CONFIG_GLOBAL || path.join(home, '.gitconfig'),
    path.join(xdg, 'git', 'config'),
    path.join(xdg, 'git', 'ignore'),
  ];
  if (excludesFile) list.push(excludesFile);
  return list;
}

function fileSig(p: string): string | null {
  try {
    const s = statSync(p, { bigint: true });
    return `${s.mtimeNs}:${s.size}:${s.ino}`;
  } catch {
    return null;
  }
}

/** mtime, ctime, size and inode of the user's index, or null when it does not exist. */
function userIndexSig(repo: Repo): string | null {
  try {
    const s = statSync(repo.userIndex, { bigint: true });
    return `${s.mtimeNs}:${s.ctimeNs}:${s.size}:${s.ino}`;
  } catch {
    return null;
  }
}

const EMPTY_TREE = { sha1: '4b825dc642cb6eb9a060e54bf8d69288fbee4904', sha256: '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321' };

/**
 * The index commit for the user's index and HEAD as they are now (reused from
 * state.json when neither changed).
 */
async function indexCommit(repo: Repo, head: string | null): Promise<{ commit: string; tree: string | null }> {
  const sig = userIndexSig(repo);
  const state = readState(repo);
  if (state.indexCommit && state.userIndexSig === sig && state.head === head && sig !== null) {
    return { commit: state.indexCommit, tree: state.indexTree ?? null };
  }
  let tree: string | null = EMPTY_TREE[repo.objectFormat];
  if (sig !== null) {
    const copy = path.join(repo.stateDir, 'user-index.copy');
    copyFileSync(repo.userIndex, copy);
    try {
      const res = await git(['write-tree'], { cwd: repo.worktree, env: { ...realEnv(repo), GIT_INDEX_FILE: copy }, okCodes: [0, 128] });
      if (res.exitCode === 0) tree = res.stdout.toString('utf8').trim();
      else if (/unmerged|conflict/i.test(res.stderr)) tree = null;
      else throw new CkptError('GIT_FAILED', `git write-tree of the user's index failed: ${res.stderr.trim()}`, { data: { stderr: res.stderr } });
    } finally {
      rmSync(copy, { force: true });
    }
  }
  const commit = writeCommit(repo, tree ?? EMPTY_TREE[repo.objectFormat], head ? [head] : [], encodeIndexMessage(repo.worktree));
  await writeState(repo, { ...state, userIndexSig: sig ?? undefined, head, indexTree: tree, indexCommit: commit, worktree: repo.worktree });
  return { commit, tree };
}

/**
 * {@link takeSnapshot} for a caller that already holds the worktree lock
 * (rollback records its `pre-rollback` snapshot this way).
 *
 * @param internal `onlyPaths`: see {@link captureTree}.
 */
export async function takeSnapshotLocked(repo: Repo, input: SnapshotInput, internal: { onlyPaths?: readonly (string | Buffer)[] } = {}): Promise<TakeResult> {
  const { tip, head, headRef } = await readTip(repo);
  const { tree, skipped } = await captureTreeReporting(repo, internal.onlyPaths);
  const idx = await indexCommit(repo, head);
  if (tip && !input.force && tip.tree === tree && tip.head === head && tip.indexTree === idx.tree) {
    return { snapshot: tip, created: false, warnings: skippedWarnings(skipped) };
  }
  // A tool-named snapshot (a hook's) has its message already: no diff needed for a summary.
  const { summary, warnings } = (input.tool && !input.message) || internal.onlyPaths ? { summary: '', warnings: [] } : await describeChanges(repo, tree, tip?.tree ?? null);
  const time = Date.now();
  const record = {
    step: (tip?.step ?? 0) + 1,
    kind: input.kind,
    message: input.message ?? defaultMessage(input, summary),
    agent: input.agent ?? null,
    tool: input.tool ?? null,
    target: input.target ?? null,
    toolUseId: input.toolUseId ?? null,
    head,
    headRef,
    indexTree: idx.tree,
    time,
    worktree: repo.worktree,
    extra: input.extra ?? {},
  };
  const message = encodeMessage(record);
  const id = writeCommit(repo, tree, tip ? [tip.id, idx.commit] : [idx.commit], message, time);
  await updateRef(repo, id, tip?.id ?? null, `ckpt: ${record.kind} step ${record.step}`);
  const snapshot = decodeSnapshot({ id, tree, parents: tip ? [tip.id, idx.commit] : [idx.commit], message });
  if (!snapshot) throw new CkptError('INTERNAL', 'a snapshot just written could not be read back');
  return { snapshot, created: true, warnings: [...skippedWarnings(skipped), ...warnings] };
}

/**
 * Moves `repo.ref` from `expected` to `next` (git-update-ref(1) with an old
 * value: all or nothing), keeping a reflog so replaced chains stay reachable.
 *
 * @throws CkptError `REF_RACE` when the ref no longer holds `expected`.
 */
export async function updateRef(repo: Repo, next: string, expected: string | null, reason: string): Promise<void> {
  // core.hooksPath=/dev/null: update-ref runs the reference-transaction hook, and no hook may run (note 21).
  const res = await git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '--create-reflog', '-m', reason, repo.ref, next, expected ?? repo.zeroOid], {
    cwd: repo.worktree,
    env: realEnv(repo),
    okCodes: [0, 1, 128],
  });
  if (res.exitCode !== 0 && !/expected|cannot lock ref|is at .* but/i.test(res.stderr)) {
    throw new CkptError('GIT_FAILED', `git update-ref ${repo.ref} failed: ${res.stderr.trim()}`, { data: { stderr: res.stderr } });
  }
  if (res.exitCode !== 0) {
    throw new CkptError('REF_RACE', `${repo.ref} was changed by another process`, {
      hint: 'Run the command again.',
      data: { ref: repo.ref, expected, stderr: res.stderr.trim() },
    });
  }
}

/** A tree's changes against the previous snapshot: a short summary and gitlink warnings. */
async function describeChanges(repo: Repo, tree: string, prevTree: string | null): Promise<{ summary: string; warnings: string[] }> {
  if (tree === prevTree) return { summary: 'no changes', warnings: [] };
  // One diff against the previous tree (or the whole tree the first time).
  const args = prevTree ? ['diff-tree', '-r', '-z', '--no-renames', prevTree, tree] : ['ls-tree', '-r', '-z', tree];
  const { stdout } = await git(args, { cwd: repo.worktree, env: shadowEnv(repo) });
  const recs = splitNul(stdout);
  const warnings: string[] = [];
  const changes: string[] = [];
  for (let i = 0; i < recs.length; i++) {
    const rec = recs[i]!.toString('utf8');
    if (prevTree) {
      // ":oldmode newmode oldoid newoid status" followed by the path record
      const p = recs[++i]?.toString('utf8') ?? '';
      const [, newMode] = rec.split(' ');
      const status = rec.slice(rec.lastIndexOf(' ') + 1);
      if (newMode === '160000') warnings.push(p);
      changes.push(`${status} ${p}`);
    } else if (rec.startsWith('160000 ')) {
      warnings.push(rec.slice(rec.indexOf('\t') + 1));
    }
  }
  let summary: string;
  if (!prevTree) summary = 'first snapshot';
  else if (changes.length <= 3) summary = changes.join(', ');
  else summary = `${changes.length} files: ${changes.slice(0, 2).join(', ')}, …`;
  return { summary, warnings: warnings.map((p) => `${p}: nested repository stored as a gitlink; its own uncommitted changes are not captured`) };
}

function skippedWarnings(skipped: string[]): string[] {
  return skipped.map((p) => `${p}: a FIFO, socket or device, which git cannot store: not captured (left as it is)`);
}

function defaultMessage(input: SnapshotInput, summary: string): string {
  if (input.tool) return [input.kind, input.tool, input.target].filter(Boolean).join(' ');
  return summary;
}
