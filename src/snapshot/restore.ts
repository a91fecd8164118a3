/**
 * Restoring a tree into the worktree: the one way ckpt changes the user's
 * files (rollback, `rollback --undo`, race pick, the viewer's pick). It makes
 * the worktree, or some paths of it, match a tree byte for byte, recording
 * first what it replaces so the restore can be undone.
 *
 * Order of work, under the worktree lock (held by the caller):
 * 1. capture the worktree's tree as it is (C), recording nothing yet;
 * 2. diff C against the target (git/tree-diff.ts) and plan every path
 *    to delete, write, re-link or re-mode; refuse names git's verify_path
 *    refuses (restore/plan.ts);
 * 3. check the plan against the live worktree: a path whose bytes cannot be
 *    read is left alone and reported (C could not hold them); anything in
 *    the way that C does not hold stops the restore before any change
 *    (restore/clobber.ts); a refused or empty plan ends here, having
 *    recorded nothing;
 * 4. record C as a `pre-rollback` snapshot (the commit is written from C
 *    itself, so it holds exactly what the plan was made from); write a
 *    journal (restore/journal.ts), apply with the check at the point
 *    of destruction, contents streamed (restore/apply.ts), drop the journal;
 *    a failure part-way puts back what was already changed;
 * 5. record the state produced as a `rollback` snapshot.
 *
 * The user's index, HEAD and ignored files are never touched.
 */
import { CkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { git, joinNul, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';
import { diffLooseTrees, diffTrees, type TreeChange } from '../git/tree-diff.js';
import { TRAILER } from './format.js';
import { Applier, type Side } from './restore/apply.js';
import { checkAgainstWorktree, setAsideUnreadable } from './restore/clobber.js';
import { withPutBack } from './restore/fs.js';
import { removeJournal, writeJournal, type Journal } from './restore/journal.js';
import { planChanges, type FileChange } from './restore/plan.js';
import { alignPrivateIndex, privateIndexPath } from './private-index.js';
import { listSteps } from './store.js';
import { captureTreeReporting, type Capture } from './capture.js';
import type { WorktreeReader } from './reader.js';
import { readTip, takeSnapshotLocked } from './take.js';

export type { FileChange } from './restore/plan.js';

/** Options for {@link restoreTree}. */
export interface RestoreOptions {
  /** What this restore is, for the snapshots' messages: `rollback to step 3`, `pick a of race r`. */
  label: string;
  /** Repository-relative paths (literal; a directory matches what is under it), or null for the whole tree. */
  paths?: string[] | null;
  /** Plan and check only; change nothing and record nothing. */
  dryRun?: boolean;
  /** Agent recorded on the snapshots (default `ckpt`). */
  agent?: string;
  /** The snapshot restored, named in the `Rollback-Target` trailer (default: the tree id). */
  target?: string | null;
  /** The pre-rollback snapshot, when the caller recorded it already (race pick does, to compare first). */
  preRollback?: Snapshot;
  /** Extra trailers of the pre-rollback snapshot (race pick: `Race`, `Attempt`). */
  preExtra?: Record<string, string>;
  /** Message of the snapshot recording the result (default: the label). */
  resultMessage?: string;
  /** For recovery: the state an interrupted series of restores started from (what `--undo` returns to). */
  undoTo?: { tree: string; snapshot: string };
  /**
   * Reads the worktree from the paths changed since the tip (the daemon's),
   * instead of git's full read: the capture the plan is made from, the live
   * state recorded at the point of destruction and the result. Whenever it
   * cannot answer, git reads the whole worktree. The check at the point of
   * destruction is the same either way.
   */
  reader?: WorktreeReader | null;
}

/** What {@link restoreTree} did (or would do, with `dryRun`). */
export interface RestoreResult {
  /** The snapshot recording the state before the restore (null on a dry run, and when nothing changed unless the caller gave it: a no-op or refused restore records nothing). When edits were found at the point of destruction, the further one recording them. */
  preRollback: Snapshot | null;
  /** The snapshot of the state the restore produced (null on a dry run or when nothing changed). */
  result: Snapshot | null;
  changes: FileChange[];
  /** Files the target lacks but left in place, because the target's ignore rules ignore them. */
  kept: string[];
  /** Directories removed because the restore emptied them. */
  removedDirs: string[];
  /** Gitlinks (nested repositories) left alone. */
  skipped: string[];
  /** Paths left as they are, with why: unreadable ones (their bytes are in no snapshot), and those found changed at the point of destruction that kept changing (or could not be recorded). */
  leftAlone: string[];
  /** Paths found changed at the point of destruction and recorded in a further pre-rollback snapshot before being replaced. */
  recordedDuring: string[];
  dryRun: boolean;
  /** The paths limited to, or null for the whole tree. */
  paths: string[] | null;
  /** Who read the worktree the plan was made from: `git` (its full read), the reader's name (`daemon`), or `caller` (the pre-rollback snapshot was given). */
  readBy: string;
}

/**
 * Makes `repo`'s worktree (or `opts.paths` of it) match `tree`, a tree ckpt's
 * store holds with everything it names (a snapshot's, or one written there
 * by `git write-tree`: race pick's). The caller holds the worktree lock.
 *
 * @throws CkptError `PATH_NOT_FOUND` (a path in neither tree), `HOSTILE_TREE`,
 *   `ROLLBACK_WOULD_CLOBBER` (data: paths; nothing changed), `REF_RACE`,
 *   `FS_FAILED` (data: path, errno; what was changed is put back first, and
 *   what could not be is put back by the next rollback, automatically),
 *   `GIT_FAILED`.
 */
export async function restoreTree(repo: Repo, tree: string, opts: RestoreOptions): Promise<RestoreResult> {
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths : null;
  const agent = opts.agent ?? 'ckpt';
  const targetName = opts.target ?? tree;
  const scope = paths ? ` (${paths.join(', ')})` : '';
  const preInput = (message: string): Parameters<typeof takeSnapshotLocked>[1] => ({
    kind: 'pre-rollback',
    force: true,
    agent,
    message,
    extra: { [TRAILER.rollbackTarget]: targetName, [TRAILER.rollbackPaths]: JSON.stringify(paths), ...(opts.preExtra ?? {}) },
  });
  let pre: Snapshot | null = opts.preRollback ?? null;
  // A journal saying "started, nothing recorded yet", so a kill before the
  // pre-rollback snapshot is known: `--undo` then acts on this restore (it
  // changed nothing), never on an older one. Recovery (opts.undoTo) keeps
  // the journal it is ending until its own replaces it.
  const intent = !opts.dryRun && !opts.undoTo;
  if (intent) writeJournal(repo, { version: 2, label: opts.label, tree, target: opts.target ?? null, preRollback: '', undoTo: { tree: '', snapshot: '' }, paths, writes: [], startedAt: Date.now(), recorded: false });
  let plan: Awaited<ReturnType<typeof planChanges>>;
  let unreadable: string[];
  let readBy = 'git';
  let applier: Applier | null = null;
  try {
    // The plan is made from the worktree as captured; the pre-rollback snapshot
    // is recorded from that same capture, and only once something will change
    // (a no-op or refused restore records nothing).
    let captured: Capture | null = null;
    if (!pre) {
      const { tip } = opts.reader ? await readTip(repo) : { tip: null };
      captured = tip && opts.reader ? await opts.reader.read(tip) : null;
      if (captured) readBy = opts.reader!.name;
      else captured = await captureTreeReporting(repo);
    } else readBy = 'caller';
    const currentTree = pre ? pre.tree : captured!.tree;
    if (paths) await checkPathsExist(repo, paths, [currentTree, tree]);
    // The plan: in process when the trees are loose, else from the reader's trees (the daemon's), else git.
    const entries = (!paths && opts.reader?.diff ? (diffLooseTrees(repo, currentTree, tree) ?? (await opts.reader.diff(currentTree, tree))) : null) ?? (await diffTrees(repo, currentTree, tree, paths));
    plan = await planChanges(repo, entries, tree);
    unreadable = setAsideUnreadable(repo, plan);
    checkAgainstWorktree(repo, plan);
    if (!opts.dryRun && plan.changes.length > 0) {
      // git, when the blobs need it, starts up while the pre-rollback snapshot is recorded.
      applier = new Applier(repo);
      applier.prepare(plan);
    }
    if (!opts.dryRun && plan.changes.length > 0 && !pre) {
      // Before the first byte changes. What changed since the capture is found
      // at the point of destruction (it differs from the plan's side) and
      // recorded then, in a further pre-rollback snapshot.
      pre = (await takeSnapshotLocked(repo, preInput(`before ${opts.label}${scope}`), { capture: async () => captured! })).snapshot;
    }
  } catch (err) {
    await applier?.close().catch(() => undefined);
    if (intent) removeJournal(repo);
    throw err;
  }
  if (intent && plan.changes.length === 0) removeJournal(repo);
  const result: RestoreResult = {
    preRollback: opts.dryRun ? null : pre,
    result: null,
    changes: plan.changes,
    kept: plan.kept.map((e) => e.path),
    removedDirs: [],
    skipped: plan.skipped,
    leftAlone: unreadable,
    recordedDuring: [],
    dryRun: !!opts.dryRun,
    paths,
    readBy,
  };
  // The private index is git's stat cache of what git read last: after a
  // reader's answer it may lag behind the tip, so later reads with git read
  // everything (never `git add -A -- PATHS` over a stale index).
  const reader = readBy === 'git' || readBy === 'caller' ? null : opts.reader!;
  if (opts.dryRun || plan.changes.length === 0) return result;

  const planned = [...plan.deletes, ...plan.writes, ...plan.modes];
  const journal: Journal = {
    version: 2,
    label: opts.label,
    tree,
    target: opts.target ?? null,
    preRollback: pre!.id,
    undoTo: opts.undoTo ?? { tree: pre!.tree, snapshot: pre!.id },
    paths,
    writes: plan.writes.map((e) => e.rel.toString('base64')),
    startedAt: Date.now(),
  };
  writeJournal(repo, journal);
  const applying = applier!;
  try {
    const recordLive = async (changed: TreeChange[]): Promise<Map<string, Side>> => {
      const rec = await recordLiveState(repo, changed, preInput(`before ${opts.label}${scope}, with the edits made while it ran`), reader);
      pre = rec.snapshot;
      result.preRollback = pre;
      result.recordedDuring.push(...changed.map((c) => c.path).filter((p) => !result.recordedDuring.includes(p)));
      journal.preRollback = pre.id;
      // The edits are part of the state before this restore: `--undo` returns to them.
      if (!opts.undoTo) journal.undoTo = { tree: pre.tree, snapshot: pre.id };
      writeJournal(repo, journal);
      return rec.sides;
    };
    const outcome = await applying.applyPlan(plan, recordLive);
    result.removedDirs = outcome.removedDirs;
    result.leftAlone = [...unreadable, ...outcome.leftAlone];
  } catch (err) {
    // Part-way: put back what was changed, from what was verified before it was destroyed.
    let left: string[] | null;
    try {
      left = await applying.putBack();
    } catch {
      left = null;
    }
    await applying.close().catch(() => undefined);
    if (left !== null) removeJournal(repo);
    else {
      journal.failed = true;
      writeJournal(repo, journal);
    }
    throw withPutBack(err, left);
  }
  await applying.close();
  removeJournal(repo);
  // Record what the restore produced, so the log shows it and a watcher
  // does not mistake it for an agent's step.
  const after = await takeSnapshotLocked(
    repo,
    { kind: 'rollback', force: true, agent, message: `${opts.resultMessage ?? opts.label}${scope}`, extra: { [TRAILER.rollbackTarget]: targetName } },
    reader ? { capture: async (tip) => storedAlready(await readOnly(repo, reader, tip, planned.map((e) => e.rel)), tree) } : { onlyPaths: planned.map((e) => e.rel) },
  );
  result.result = after.snapshot;
  return result;
}

/**
 * The capture of a restore's result without the objects it queued when its
 * tree is the one restored (a whole-tree restore that did all it planned):
 * that tree is a snapshot's, so the store holds it and everything it names,
 * and the reader's writer would write again, as a pack, the restored blobs
 * and the trees above them (building and fsyncing two more files in the
 * snapshot's round). The commit alone is written then. Any other tree (some
 * paths restored, a path left alone) keeps its objects.
 */
function storedAlready(c: Capture, restored: string): Capture {
  if (c.tree !== restored || !c.writer) return c;
  const { writer: _queued, ...rest } = c;
  return rest;
}

/**
 * Records the live bytes of `changed` in a further snapshot, git's stat cache
 * bypassed for them (their private-index entries lose their stat data, so
 * `git add` hashes them again: a same-size edit with its mtime restored is
 * seen under any `core.checkStat`/`core.trustctime`). Returns what the new
 * snapshot holds for each path.
 */
async function recordLiveState(repo: Repo, changed: TreeChange[], input: Parameters<typeof takeSnapshotLocked>[1], reader: WorktreeReader | null): Promise<{ snapshot: Snapshot; sides: Map<string, Side> }> {
  const env = shadowEnv(repo, privateIndexPath(repo));
  const rels = changed.map((c) => c.rel);
  const wanted = new Set(rels.map((r) => r.toString('latin1')));
  // git ls-files takes no pathspec file: list the private index, keep the paths wanted.
  const entries = async (): Promise<Map<string, { rec: Buffer; mode: string; oid: string }>> => {
    const out = new Map<string, { rec: Buffer; mode: string; oid: string }>();
    for (const rec of splitNul((await git(['ls-files', '-s', '-z'], { cwd: repo.worktree, env })).stdout)) {
      const tab = rec.indexOf(0x09);
      const key = rec.subarray(tab + 1).toString('latin1');
      if (!wanted.has(key)) continue;
      const [mode, oid, stage] = rec.subarray(0, tab).toString('latin1').split(' ');
      if (stage === '0') out.set(key, { rec, mode: mode!, oid: oid! });
    }
    return out;
  };
  // `--index-info` takes ls-files --stage lines and writes the entries back with empty stat data.
  const cached = await entries();
  if (cached.size > 0) await git(['update-index', '-z', '--index-info'], { cwd: repo.worktree, env, input: joinNul([...cached.values()].map((e) => e.rec)) });
  if (reader) {
    // The reader reads and hashes the paths it is given; if it cannot, git
    // reads everything (their stat data cleared above, so they are hashed).
    const { snapshot } = await takeSnapshotLocked(repo, input, { capture: (tip) => readOnly(repo, reader, tip, rels) });
    return { snapshot, sides: await sidesInTree(repo, snapshot.tree, changed) };
  }
  const { snapshot } = await takeSnapshotLocked(repo, input, { onlyPaths: rels });
  const now = await entries();
  const sides = new Map<string, Side>();
  for (const c of changed) {
    const e = now.get(c.rel.toString('latin1'));
    sides.set(c.path, e ? { mode: e.mode, oid: e.oid } : null);
  }
  return { snapshot, sides };
}

/**
 * The tip with exactly `rels` read again, from the reader; when it cannot
 * answer, with git: the private index first made to hold the tip's tree
 * (the reader's reads left it behind), then `git add -A -- PATHS` as the
 * direct path does.
 */
async function readOnly(repo: Repo, reader: WorktreeReader, tip: Snapshot | null, rels: Buffer[]): Promise<Capture> {
  const got = tip ? await reader.read(tip, rels) : null;
  if (got) return got;
  if (!tip) return captureTreeReporting(repo);
  await alignPrivateIndex(repo, shadowEnv(repo, privateIndexPath(repo)), tip.tree);
  return captureTreeReporting(repo, rels);
}

/**
 * What `tree` holds at each of `changed`'s paths (null: nothing). The whole
 * listing, so any name's raw bytes match (a pathspec argument is text); only
 * when edits were caught at the point of destruction.
 */
async function sidesInTree(repo: Repo, tree: string, changed: TreeChange[]): Promise<Map<string, Side>> {
  const wanted = new Set(changed.map((c) => c.rel.toString('latin1')));
  const held = new Map<string, Side>();
  const { stdout } = await git(['ls-tree', '-r', '-z', '--full-tree', tree], { cwd: repo.worktree, env: shadowEnv(repo) });
  for (const rec of splitNul(stdout)) {
    const tab = rec.indexOf(0x09);
    const key = rec.subarray(tab + 1).toString('latin1');
    if (!wanted.has(key)) continue;
    const [mode, , oid] = rec.subarray(0, tab).toString('latin1').split(' ');
    held.set(key, { mode: mode!, oid: oid! });
  }
  const sides = new Map<string, Side>();
  for (const c of changed) sides.set(c.path, held.get(c.rel.toString('latin1')) ?? null);
  return sides;
}

/** @throws CkptError `PATH_NOT_FOUND` for a path in none of `trees`. */
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
    // Where the path is: the newest step whose tree holds it (a symlink in its place now, say).
    const holders: Record<string, number> = {};
    for (const step of (await listSteps(repo, { stats: false, limit: 500 })).filter((st) => !trees.includes(st.tree))) {
      const left = missing.filter((p) => holders[p] === undefined);
      if (left.length === 0) break;
      const { stdout } = await git(['ls-tree', '-r', '-z', '--name-only', '--full-tree', step.tree, '--', ...left], { cwd: repo.worktree, env: { ...shadowEnv(repo), GIT_LITERAL_PATHSPECS: '1' } });
      for (const rec of splitNul(stdout)) {
        const name = rec.toString('utf8');
        for (const p of left) if (holders[p] === undefined && (name === p || name.startsWith(p + '/'))) holders[p] = step.step;
      }
    }
    const found = Object.entries(holders).map(([p, n]) => `${p} is in step ${n} (\`ckpt rollback ${n} -- ${p}\`)`);
    throw new CkptError('PATH_NOT_FOUND', `not in the current state nor in the target: ${missing.join(', ')}`, {
      hint: found.length > 0 ? `${found.join('; ')}.` : 'Paths are relative to the worktree root; check the names with `ckpt diff --stat`.',
      data: { paths: missing, steps: holders },
    });
  }
}
