/**
 * The daemon's exclude sources (watch/ignore-rules.ts loadExcludeRules):
 * `core.excludesFile` and `info/exclude` as git reads them, and skipped
 * entirely only when they hold no pattern (only comments and empty lines,
 * as git's default `info/exclude`). Every verdict is checked against
 * `git check-ignore`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepo } from '../src/git/repo.js';
import { hasPattern, loadExcludeRules, loadIgnoreRules } from '../src/watch/ignore-rules.js';
import { git, makeRepo, tempDir } from './support/repo.js';

/** git's verdict for `rel` (a directory when it ends with `/`). */
function gitIgnores(dir: string, rel: string): boolean {
  const r = spawnSync('git', ['check-ignore', '-q', '--no-index', rel], { cwd: dir });
  expect([0, 1]).toContain(r.status);
  return r.status === 0;
}

describe('exclude sources', () => {
  it('tells a pattern line from comments and empty lines (a line of spaces counts as one, on the safe side)', () => {
    expect(hasPattern('')).toBe(false);
    expect(hasPattern('# git ls-files --others --exclude-from=.git/info/exclude\n# Lines that start with \'#\' are comments.\n\n\n')).toBe(false);
    for (const text of ['build/', '# c\n\\#x\n', '  # x', '   ', '\t', '\r\n', 'a\r\n', '\\ ']) expect(hasPattern(text), JSON.stringify(text)).toBe(true);
  });

  it('judges as git does whether the sources hold patterns or only comments', async () => {
    const dir = makeRepo();
    const home = tempDir('ckpt-excl-');
    const excludes = path.join(home, 'ignore');
    git(dir, 'config', 'core.excludesFile', excludes);
    const names = ['build/', 'out/', '#x', '  # x', 'keep.log', 'src/', 'src/gen/'];
    for (const n of names) {
      if (n.endsWith('/')) fs.mkdirSync(path.join(dir, n), { recursive: true });
      else fs.writeFileSync(path.join(dir, n), '');
    }
    const cases: Array<[string, string]> = [
      ['# only a comment\n\n', '# default\n'],
      ['build/\n', '# default\n'],
      ['', '\\#x\n  # x\n'],
      ['*.log\n', 'gen/\n!src/gen/\n'],
    ];
    for (const [global, info] of cases) {
      fs.writeFileSync(excludes, global);
      fs.writeFileSync(path.join(dir, '.git', 'info', 'exclude'), info);
      const rules = await loadExcludeRules(await openRepo(dir));
      for (const n of names) {
        const rel = n.endsWith('/') ? n.slice(0, -1) : n;
        expect(rules.ignores(rel, n.endsWith('/')), `${JSON.stringify([global, info])} ${n}`).toBe(gitIgnores(dir, n));
      }
    }
  });

  it('skips a UTF-8 byte order mark at the start of every ignore file, as git does (dir.c add_patterns_from_buffer)', async () => {
    const dir = makeRepo();
    const home = tempDir('ckpt-excl-');
    const excludes = path.join(home, 'ignore');
    git(dir, 'config', 'core.excludesFile', excludes);
    const bom = '\uFEFF';
    fs.writeFileSync(excludes, `${bom}*.log\n`);
    fs.writeFileSync(path.join(dir, '.git', 'info', 'exclude'), `${bom}build/\n`);
    fs.writeFileSync(path.join(dir, '.gitignore'), `${bom}out/\n`);
    fs.mkdirSync(path.join(dir, 'src', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', '.gitignore'), `${bom}deep/\n# c\n`);
    const names = ['build/', 'out/', 'keep.log', 'src/deep/', 'src/', 'README.md'];
    for (const n of names) {
      if (n.endsWith('/')) fs.mkdirSync(path.join(dir, n), { recursive: true });
      else fs.writeFileSync(path.join(dir, n), '');
    }
    const rules = await loadIgnoreRules(await openRepo(dir));
    for (const n of names) {
      const rel = n.endsWith('/') ? n.slice(0, -1) : n;
      expect(rules.ignores(rel, n.endsWith('/')), n).toBe(gitIgnores(dir, n));
    }
    // Each is ignored by its first pattern: a BOM taken for part of it would ignore none.
    expect(names.filter((n) => gitIgnores(dir, n))).toEqual(['build/', 'out/', 'keep.log', 'src/deep/']);
    // Sources of a BOM and comments only (git's default info/exclude saved by an editor that adds one) hold no pattern.
    fs.writeFileSync(excludes, `${bom}# nothing\n`);
    fs.writeFileSync(path.join(dir, '.git', 'info', 'exclude'), `${bom}# git ls-files --others --exclude-from=.git/info/exclude\n`);
    const only = await loadExcludeRules(await openRepo(dir));
    expect(only.sources?.text.includes(bom)).toBe(false);
    expect(hasPattern(only.sources!.text)).toBe(false);
  });

  it('reads a relative core.excludesFile from the worktree\'s top, as git does run from the top or from a subdirectory, whatever the cwd of the process reading it', async () => {
    const dir = makeRepo({ 'README.md': '# p\n', 'sub/x.txt': 'x\n' });
    fs.writeFileSync(path.join(dir, 'top.ignore'), 'gen/\n');
    fs.writeFileSync(path.join(dir, 'sub', 'top.ignore'), 'sub-only/\n');
    fs.mkdirSync(path.join(dir, 'gen'));
    fs.mkdirSync(path.join(dir, 'sub', 'sub-only'));
    git(dir, 'config', 'core.excludesFile', 'top.ignore');
    // git from the top and from sub/: the file at the top decides, the one in sub/ is never read.
    expect(gitIgnores(dir, 'gen/')).toBe(true);
    expect(gitIgnores(path.join(dir, 'sub'), '../gen/')).toBe(true);
    expect(gitIgnores(path.join(dir, 'sub'), 'sub-only/')).toBe(false);
    const rules = await loadExcludeRules(await openRepo(path.join(dir, 'sub')));
    expect(process.cwd()).not.toBe(dir);
    expect(rules.ignores('gen', true)).toBe(true);
    expect(rules.ignores('sub/sub-only', true)).toBe(false);
    expect(rules.sources?.excludesFile).toBe(path.join(fs.realpathSync(dir), 'top.ignore'));
  });

  it('reads no excludes file when core.excludesFile is set empty (git reads not even its default then), the default when it is not set', async () => {
    const dir = makeRepo();
    const xdg = tempDir('ckpt-xdg-');
    fs.mkdirSync(path.join(xdg, 'git'));
    fs.writeFileSync(path.join(xdg, 'git', 'ignore'), 'by-default/\n');
    fs.mkdirSync(path.join(dir, 'by-default'));
    const was = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = xdg;
    try {
      for (const set of [null, '']) {
        if (set !== null) git(dir, 'config', 'core.excludesFile', set);
        const rules = await loadExcludeRules(await openRepo(dir));
        expect(rules.ignores('by-default', true), JSON.stringify(set)).toBe(gitIgnores(dir, 'by-default/'));
        expect(gitIgnores(dir, 'by-default/'), JSON.stringify(set)).toBe(set === null);
      }
    } finally {
      if (was === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = was;
    }
  });
});
