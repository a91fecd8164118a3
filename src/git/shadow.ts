/**
 * The shadow git dir: a tiny, hermetic `GIT_DIR` that ckpt uses for all work
 * on objects and its private indexes, so that
 *
 * - content is taken and restored as raw bytes: its `info/attributes` (which
 *   outranks every `.gitattributes`, see gitattributes(5) "precedence") unsets
 *   `text`, `eol`, `filter`, `ident` and `working-tree-encoding`, so no EOL
 *   conversion, LFS or other clean/smudge filter runs (reliability note 12);
 * - the user's repository config still applies where it should (it is
 *   `[include]`d: `core.excludesFile`, `core.ignoreCase`, `core.fileMode`,
 *   `core.symlinks`), and afterwards the settings that must not apply are
 *   overridden: signing, fsmonitor, split index, hooks (note 21);
 * - `.git/info/exclude` is honoured through a symlink to the real one.
 *
 * Objects go straight into the real object store (`GIT_OBJECT_DIRECTORY`),
 * refs are always written through the real repository (see refs.ts).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Repo } from './repo.js';

/** Bump when the shadow layout or config changes; older shadows are rebuilt. */
const SHADOW_VERSION = '3';

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
  const dir = ensureShadow(repo);
  return {
    GIT_DIR: dir,
    GIT_WORK_TREE: repo.worktree,
    GIT_OBJECT_DIRECTORY: path.join(repo.commonDir, 'objects'),
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
    GIT_NAMESPACE: undefined,
  };
}

const ensured = new Map<string, string>();

function ensureShadow(repo: Repo): string {
  const dir = path.join(repo.commonDir, 'ckpt', 'shadow');
  const cached = ensured.get(dir);
  if (cached) return cached;
  let ok = false;
  try {
    ok = readFileSync(path.join(dir, 'ckpt-shadow-version'), 'utf8') === SHADOW_VERSION;
  } catch {
    ok = false;
  }
  if (!ok) build(repo, dir);
  ensured.set(dir, dir);
  return dir;
}

function build(repo: Repo, dir: string): void {
  const parent = path.dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.shadow-${process.pid}-${Date.now()}`);
  mkdirSync(path.join(tmp, 'refs'), { recursive: true });
  mkdirSync(path.join(tmp, 'info'), { recursive: true });
  writeFileSync(path.join(tmp, 'HEAD'), 'ref: refs/heads/ckpt-shadow\n');
  writeFileSync(path.join(tmp, 'info', 'attributes'), ATTRIBUTES);
  symlinkSync(path.join(repo.commonDir, 'info', 'exclude'), path.join(tmp, 'info', 'exclude'));
  const format = repo.objectFormat === 'sha256' ? '\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n[core]\n' : '\trepositoryformatversion = 0\n';
  writeFileSync(
    path.join(tmp, 'config'),
    [
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
  );
  writeFileSync(path.join(tmp, 'ckpt-shadow-version'), SHADOW_VERSION);
  try {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch {
    // Another process built it at the same moment: theirs is as good as ours.
    rmSync(tmp, { recursive: true, force: true });
  }
}

function quoteConfigPath(p: string): string {
  return `"${p.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
