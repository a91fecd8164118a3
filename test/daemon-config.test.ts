/**
 * Whether the daemon is wanted (watch/daemon-paths.ts daemonWanted): the
 * environment first, then git's `ckpt.daemon` from the system, global and
 * repository config, read without git; whenever a file includes others,
 * git answers. On when nothing says otherwise (the default). Every case is
 * checked against `git config --get --type=bool` (unset: the default).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { daemonWanted } from '../src/watch/daemon-paths.js';
import { makeRepo, tempDir } from './support/repo.js';

/** git's answer, with the default (on) when the key is not set (exit 1). */
function gitSays(dir: string, env: NodeJS.ProcessEnv): boolean {
  const r = spawnSync('git', ['config', '--get', '--type=bool', 'ckpt.daemon'], { cwd: dir, env, encoding: 'utf8' });
  if (r.status === 1) return true;
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim() === 'true';
}

describe('ckpt.daemon', () => {
  it('is on unless a config says false: read from the system, global and repository config as git reads it (the repository wins; includes through git); the environment wins over all', () => {
    const dir = makeRepo();
    const common = path.join(dir, '.git');
    const home = tempDir('ckpt-home-');
    const global = path.join(home, 'gitconfig');
    const system = path.join(home, 'system-gitconfig');
    const env = { ...process.env, HOME: home, GIT_CONFIG_GLOBAL: global, GIT_CONFIG_SYSTEM: system, GIT_CONFIG_NOSYSTEM: undefined, CKPT_DAEMON: undefined, CKPT_NO_DAEMON: undefined };
    const repoConfig = fs.readFileSync(path.join(common, 'config'), 'utf8');
    const cases: { system?: string; global: string; repo: string; want: boolean }[] = [
      { global: '', repo: '', want: true },
      { global: '[ckpt]\n\tdaemon = false\n', repo: '', want: false },
      { system: '[ckpt]\n\tdaemon = false\n', global: '', repo: '', want: false },
      { system: '[ckpt]\n\tdaemon = false\n', global: '[ckpt]\n\tdaemon = true\n', repo: '', want: true },
      { global: '[CKPT]\n\tDaemon\n', repo: '', want: true },
      { global: '[ckpt]\n\tdaemon = yes\n', repo: '[ckpt]\n\tdaemon = false\n', want: false },
      { global: '[ckpt]\n\tdaemon = off\n', repo: '[ckpt]\n\tdaemon = "on" # quoted, commented\n', want: true },
      { global: '[ckpt]\n\tdaemon = no\n', repo: '', want: false },
      { global: '[ckpt "sub"]\n\tdaemon = false\n[other]\n\tdaemon = false\n', repo: '', want: true },
      { global: `[include]\n\tpath = ${path.join(home, 'more')}\n`, repo: '', want: false },
      { global: '', repo: `[includeIf "gitdir:${dir}/"]\n\tpath = ${path.join(home, 'more')}\n`, want: false },
    ];
    fs.writeFileSync(path.join(home, 'more'), '[ckpt]\n\tdaemon = false\n');
    for (const c of cases) {
      fs.writeFileSync(system, c.system ?? '');
      fs.writeFileSync(global, c.global);
      fs.writeFileSync(path.join(common, 'config'), repoConfig + c.repo);
      expect(gitSays(dir, env), JSON.stringify(c)).toBe(c.want);
      expect(daemonWanted(common, env), JSON.stringify(c)).toBe(c.want);
    }
    fs.writeFileSync(system, '');
    fs.writeFileSync(global, '');
    fs.writeFileSync(path.join(common, 'config'), repoConfig);
    expect(daemonWanted(common, env)).toBe(true);
    expect(daemonWanted(common, { ...env, CKPT_DAEMON: '0' })).toBe(false);
    expect(daemonWanted(common, { ...env, CKPT_NO_DAEMON: '1' })).toBe(false);
    expect(daemonWanted(common, { ...env, CKPT_NO_DAEMON: '1', CKPT_DAEMON: '1' })).toBe(false);
    fs.writeFileSync(global, '[ckpt]\n\tdaemon = false\n');
    expect(daemonWanted(common, { ...env, CKPT_DAEMON: '1' })).toBe(true);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
