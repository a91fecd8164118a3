/**
 * A synchronous matcher for git's ignore rules, so the watcher does not even
 * descend into ignored directories (`node_modules`, build output). The rules
 * come from every `.gitignore` in the worktree, `.git/info/exclude` and
 * `core.excludesFile`; matching is the `ignore` package's (gitignore(5)
 * semantics). The watcher only uses this to decide *when* to snapshot; what a
 * snapshot holds is always decided by git itself.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { git, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { excludeSignature } from '../snapshot/incremental.js';

/** Tells whether a worktree-relative path is ignored. */
export interface IgnoreMatcher {
  /** @param rel POSIX path relative to the worktree root; `isDir` for directories. */
  ignores(rel: string, isDir: boolean): boolean;
}

/**
 * The exclude sources as they were read: the excludes file git reads (`core.excludesFile`
 * resolved, or git's default; null: none, the setting is empty),
 * the stat signature of every file that can change them (snapshot/incremental.ts
 * excludeSignature: `info/exclude`, the excludes file, the configs that name
 * it), taken *before* their text was read, so an edit made while they were
 * read changes it, and their text.
 */
export interface ExcludeSources {
  excludesFile: string | null;
  signature: string;
  text: string;
}

/**
 * git's exclude sources as layers: `core.excludesFile` and `info/exclude`
 * below every `.gitignore`, a deeper `.gitignore` above a shallower one
 * (gitignore(5) "the last matching pattern decides", the precedence of the
 * sources). A path is tested against the layers of its ancestor directories
 * only, looked up by name (O(depth), not O(.gitignore files)).
 */
export class IgnoreLayers implements IgnoreMatcher {
  private readonly dirs = new Map<string, Ignore>();
  /**
   * The exclude sources as given; null when they hold no pattern (the usual
   * case): not tested, nor the `ignore` package's cache filled, for every
   * directory of the daemon's walk (with the walk's paths joined without
   * path.join, tree-watch.ts: its CPU time 771 -> 684 ms at 100k files,
   * medians of 7 interleaved runs, docs/architecture.md).
   */
  private readonly base: Ignore | null;

  /**
   * @param base the rules of `core.excludesFile` and `info/exclude`.
   * @param baseText their text: when it has no pattern line (only blank
   *   lines and comments, as git's default `info/exclude`), `base` is not
   *   consulted at all. Omitted: always consulted.
   */
  constructor(
    base: Ignore,
    baseText?: string,
    /** What the exclude sources were when read ({@link loadExcludeRules}; unknown when built otherwise): a watch compares them to tell when to reload. */
    public sources: ExcludeSources | null = null,
  ) {
    this.base = baseText === undefined || hasPattern(baseText) ? base : null;
  }

  /** Sets the rules of the `.gitignore` in `dir` (worktree-relative, `''` for the root), replacing any it had. */
  add(dir: string, text: string): void {
    this.dirs.set(dir, ignore().add(text));
  }

  ignores(rel: string, isDir: boolean): boolean {
    if (rel === '' || rel === '.') return false;
    let ignored = false;
    if (this.base) ignored = verdict(this.base, rel, isDir, ignored);
    if (this.dirs.size === 0) return ignored;
    // The root's .gitignore, then each ancestor's, deepest last.
    for (let i = -1; ; ) {
      const ig = this.dirs.get(i < 0 ? '' : rel.slice(0, i));
      if (ig) ignored = verdict(ig, rel.slice(i + 1), isDir, ignored);
      i = rel.indexOf('/', i + 1);
      if (i < 0) break;
    }
    return ignored;
  }
}

/** `ignored` after the rules of `ig` for `sub` (relative to their directory): set when they ignore it, cleared when they re-include it, else kept. */
function verdict(ig: Ignore, sub: string, isDir: boolean, ignored: boolean): boolean {
  const r = ig.test(isDir ? `${sub}/` : sub);
  return r.ignored ? true : r.unignored ? false : ignored;
}

/**
 * Whether gitignore `text` has a pattern: a line that is not empty and not a
 * comment (`#` first; `\\#` is a pattern). A line of spaces or a lone `\r`
 * counts too, on the safe side: git 2.39 matches nothing by it (`git
 * check-ignore -v` exits 1), and the sources are then only consulted in
 * vain. False only when git would match nothing by the text.
 */
export function hasPattern(text: string): boolean {
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) return true;
  return false;
}

/**
 * The exclude sources that are not in the worktree: `core.excludesFile`
 * (one `git config`) and `info/exclude`. The daemon's watch adds each
 * `.gitignore` it meets while it walks (watch/tree-watch.ts), which saves the
 * `ls-files` that lists them (it walks the whole worktree for untracked
 * ones: 0.4-0.5 s at 100k files here, most of the daemon's ready time).
 */
export async function loadExcludeRules(repo: Repo): Promise<IgnoreLayers> {
  const file = await excludesFile(repo);
  const signature = excludeSignature(repo, file);
  const base = ignore();
  let text = '';
  for (const f of [file, path.join(repo.commonDir, 'info', 'exclude')]) {
    if (f === null) continue;
    const t = readIgnoreFile(f);
    base.add(t);
    text += `${t}\n`;
  }
  return new IgnoreLayers(base, text, { excludesFile: file, signature, text });
}

/**
 * Whether the exclude sources may have changed since `sources` were read
 * (their files' stat data differ): then {@link loadExcludeRules} again
 * tells whether what they say changed. Unknown sources: true.
 */
export function excludeSourcesMoved(repo: Repo, sources: ExcludeSources | null): boolean {
  return sources === null || excludeSignature(repo, sources.excludesFile) !== sources.signature;
}

/** Loads the ignore rules of `repo`'s worktree as they are now: the exclude sources and every `.gitignore` git lists. */
export async function loadIgnoreRules(repo: Repo): Promise<IgnoreLayers> {
  const rules = await loadExcludeRules(repo);
  const { stdout } = await git(['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ':(glob)**/.gitignore'], {
    cwd: repo.worktree,
    env: shadowEnv(repo, path.join(repo.stateDir, 'index')),
  });
  for (const f of new Set(splitNul(stdout).map((b) => b.toString('utf8')))) {
    const dir = path.posix.dirname(f);
    rules.add(dir === '.' ? '' : dir, readIgnoreFile(path.join(repo.worktree, f)));
  }
  return rules;
}

/**
 * The excludes file git reads: `core.excludesFile`, a relative path
 * relative to the worktree's top (git's setup chdirs there before it reads
 * the excludes, from whatever subdirectory it was run; checked with git 2.39
 * in test/ignore-rules.test.ts), never to this process's cwd; none (null)
 * when it is set empty; `$XDG_CONFIG_HOME/git/ignore` (`~/.config/git/ignore`)
 * when it is not set (git reads that one only then).
 */
async function excludesFile(repo: Repo): Promise<string | null> {
  const res = await git(['config', '--path', '--get', 'core.excludesFile'], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
  if (res.exitCode === 0) {
    const configured = res.stdout.toString('utf8').trim();
    return configured ? path.resolve(repo.worktree, configured) : null;
  }
  const xdg = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(xdg, 'git', 'ignore');
}

/** The UTF-8 byte order mark, as decoded: git skips it at the start of an ignore file (dir.c add_patterns_from_buffer), the `ignore` package would take it for part of the first pattern. */
const BOM = '\uFEFF';

/**
 * The text of an ignore file (a `.gitignore`, `info/exclude`, the excludes
 * file) as git reads its patterns: without a UTF-8 byte order mark at its
 * start; `''` when it cannot be read (git skips such a file too). Never throws.
 */
export function readIgnoreFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  return text.startsWith(BOM) ? text.slice(1) : text;
}
