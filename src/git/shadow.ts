/**
 * The shadow git dir: a tiny, hermetic `GIT_DIR` that ckpt uses for all work
 * on objects and its private indexes, so that
 *
 * - content is taken and restored as raw bytes: its `info/attributes` (which
 *   outranks every `.gitattributes`, see gitattributes(5) "precedence") unsets
 *   `text`, `eol`, `filter`, `ident` and `working-tree-encoding`, so no EOL
 *   conversion, LFS or other clean/smudge filter runs (docs/reliability.md R3);
 * - the user's repository config still applies where it should (it is
 *   `[include]`d: `core.excludesFile`, `core.ignoreCase`, `core.fileMode`,
 *   `core.symlinks`), and afterwards the settings that must not apply are
 *   overridden: signing, fsmonitor, split index, hooks (docs/reliability.md R16);
 * - `.git/info/exclude` is honoured through a symlink to the real one.
 *
 * It is also ckpt's own store (docs/snapshot-format.md "Where everything
 * lives"): snapshot objects are written into its `objects/`, whose
 * `objects/info/alternates` names the repository's object dir, so the user's
 * blobs are read from there and never copied (gitrepository-layout(5)
 * "objects/info/alternates"); the chains are refs inside it
 * (`refs/ckpt/wt/<id>`, with reflogs under its `logs/`). The user's
 * `git gc`, `git update-ref -d` and prune grace period do not reach it.
 * The user's repository never points back at it: whatever must reach the
 * user's store (a picked attempt) is copied there (git/store.ts).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Repo } from './repo-type.js';

/** Bump when the shadow layout or config changes; older shadows are rebuilt. */
const SHADOW_VERSION = '4';

const ATTRIBUTES = '* -text -eol -filter -ident -working-tree-encoding\n';

/** Environment for git commands that work on objects and a private index. */
export interface ShadowEnv {
  [key: string]: string | undefined;
  GIT_DIR: string;
  GIT_WORK_TREE: string;
  GIT_OBJECT_DIRECTORY: string;
}

/**
 * Returns the environment for hermetic object/index work on `repo`, creating
 * the shadow dir on first use (atomically: built aside, then renamed).
 *
 * @param indexFile the private index to use (`GIT_INDEX_FILE`), if any.
 */
export function shadowEnv(repo: Repo, indexFile?: string): ShadowEnv {
  const dir = ensureShadow(repo, true);
  return {
    GIT_DIR: dir,
    GIT_WORK_TREE: repo.worktree,
    GIT_OBJECT_DIRECTORY: path.join(dir, 'objects'),
    GIT_ALTERNATE_OBJECT_DIRECTORIES: undefined,
    GIT_INDEX_FILE: indexFile,
    GIT_COMMON_DIR: undefined,
    GIT_NAMESPACE: undefined,
    GIT_CEILING_DIRECTORIES: undefined,
    GIT_ATTR_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'ckpt',
    GIT_AUTHOR_EMAIL: 'ckpt@localhost',
    GIT_COMMITTER_NAME: 'ckpt',
    GIT_COMMITTER_EMAIL: 'ckpt@localhost',
  };
}

/**
 * Environment for git commands that must see the real repository (refs, HEAD,
 * the user's index, read only). Pins `GIT_DIR`/`GIT_WORK_TREE` so a stray
 * `GIT_INDEX_FILE` or `GIT_DIR` in the user's environment cannot redirect us.
 */
export function realEnv(repo: Repo): Record<string, string | undefined> {
  return {
    GIT_DIR: repo.gitDir,
    GIT_WORK_TREE: repo.worktree,
    GIT_INDEX_FILE: undefined,
    GIT_OBJECT_DIRECTORY: undefined,
    GIT_ALTERNATE_OBJECT_DIRECTORIES: undefined,
    GIT_COMMON_DIR: undefined,
    GIT_NAMESPACE: undefined,
  };
}

/** The shadow git dir, ckpt's own store: `<common>/ckpt/shadow` (not created). */
export function shadowDir(repo: Repo): string {
  return path.join(repo.commonDir, 'ckpt', 'shadow');
}

/**
 * Whether ckpt's store exists (one stat of its `HEAD`). A reader checks it
 * before anything that would name the store to git ({@link shadowEnv}
 * creates it): with no store there is no snapshot to read, and a command
 * that only reads writes nothing, not even the store's empty layout.
 */
export function storeExists(repo: Repo): boolean {
  return existsSync(path.join(shadowDir(repo), 'HEAD'));
}

/** ckpt's own object dir, `<common>/ckpt/shadow/objects` (created with the shadow). */
export function shadowObjectsDir(repo: Repo): string {
  return path.join(ensureShadow(repo), 'objects');
}

/**
 * What `objects/info/alternates` holds: the repository's object dir relative
 * to the shadow's object dir (git resolves a relative entry against the
 * object dir holding the file), so moving the repository keeps it valid.
 */
const ALTERNATES = '../../../objects\n';

const ensured = new Map<string, string>();

/**
 * The shadow dir, built or upgraded on first use in this process.
 *
 * @param check whether to check (one stat) that a store this process has
 *   seen is still there: before git is pointed at it (shadowEnv), so a store
 *   removed meanwhile (the user's cleanup, a benchmark's reset) is made
 *   again, not named to git as if it were there. In-process readers and
 *   writers of its files need no check (a missing file is an answer of its
 *   own there, and they run many times a step).
 */
function ensureShadow(repo: Repo, check = false): string {
  const dir = shadowDir(repo);
  const cached = ensured.get(dir);
  if (cached && (!check || existsSync(path.join(cached, 'HEAD')))) return cached;
  let ok = false;
  try {
    ok = readFileSync(path.join(dir, 'ckpt-shadow-version'), 'utf8') === SHADOW_VERSION;
  } catch {
    ok = false;
  }
  if (!ok) {
    if (existsSync(path.join(dir, 'HEAD'))) upgrade(repo, dir);
    else build(repo, dir);
  }
  ensured.set(dir, dir);
  return dir;
}

/** The files that make the shadow what it is (everything but objects, refs and logs). */
function layoutFiles(repo: Repo): Record<string, string> {
  const format = repo.objectFormat === 'sha256' ? '\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n[core]\n' : '\trepositoryformatversion = 0\n';
  return {
    HEAD: 'ref: refs/heads/ckpt-shadow\n',
    'info/attributes': ATTRIBUTES,
    'objects/info/alternates': ALTERNATES,
    config: [
      '[core]',
      format.trimEnd(),
      '[include]',
      `\tpath = ${quoteConfigPath(path.join(repo.commonDir, 'config'))}`,
      '[core]',
      '\tbare = false',
      '\tfsmonitor = false',
      '\tsplitIndex = false',
      '\tautocrlf = false',
      '\tsafecrlf = false',
      '\tquotePath = false',
      '\tlogAllRefUpdates = false',
      '\thooksPath = /dev/null',
      '\tuntrackedCache = true',
      '[commit]',
      '\tgpgSign = false',
      '[tag]',
      '\tgpgSign = false',
      '[gc]',
      '\tauto = 0',
      '\treflogExpire = never',
      '\treflogExpireUnreachable = never',
      '[maintenance]',
      '\tauto = false',
      '[advice]',
      '\taddEmbeddedRepo = false',
      '\taddIgnoredFile = false',
      '[index]',
      '\tsparse = false',
      '[diff]',
      '\tnoprefix = false',
      '\tmnemonicPrefix = false',
      '\trelative = false',
      '',
    ].join('\n'),
  };
}

function writeLayout(repo: Repo, dir: string, tag: string): void {
  for (const [rel, text] of Object.entries(layoutFiles(repo))) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${tag}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  }
  for (const sub of ['refs', 'logs', 'objects/pack']) mkdirSync(path.join(dir, sub), { recursive: true });
}

function build(repo: Repo, dir: string): void {
  const parent = path.dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now()}`;
  const tmp = path.join(parent, `.shadow-${tag}`);
  mkdirSync(tmp, { recursive: true });
  writeLayout(repo, tmp, tag);
  symlinkSync(path.join(repo.commonDir, 'info', 'exclude'), path.join(tmp, 'info', 'exclude'));
  writeFileSync(path.join(tmp, 'ckpt-shadow-version'), SHADOW_VERSION);
  try {
    renameSync(tmp, dir);
  } catch {
    // Another process built it at the same moment: theirs is as good as ours.
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Brings an older shadow up to this version in place. Never removes
 * anything: since version 4 the shadow holds ckpt's objects, refs and
 * reflogs, so it is only ever added to (each file replaced atomically).
 */
function upgrade(repo: Repo, dir: string): void {
  const tag = `${process.pid}-${Date.now()}`;
  writeLayout(repo, dir, tag);
  const exclude = path.join(dir, 'info', 'exclude');
  try {
    symlinkSync(path.join(repo.commonDir, 'info', 'exclude'), exclude);
  } catch {
    // already there
  }
  const v = path.join(dir, `ckpt-shadow-version.${tag}.tmp`);
  writeFileSync(v, SHADOW_VERSION);
  renameSync(v, path.join(dir, 'ckpt-shadow-version'));
}

function quoteConfigPath(p: string): string {
  return `"${p.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
