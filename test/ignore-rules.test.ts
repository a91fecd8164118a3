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
import { hasPattern, loadExcludeRules } from '../src/watch/ignore-rules.js';
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
});
