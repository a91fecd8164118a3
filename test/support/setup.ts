/**
 * Hermetic git for every test: no system or user config (signing, hooks,
 * aliases, excludes of the machine never leak in), a fixed identity, and a
 * private XDG config dir. Runs before each test file, and removes its
 * directory after the file's tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-test-env-'));
const gitconfig = path.join(dir, 'gitconfig');
fs.writeFileSync(
  gitconfig,
  ['[user]', '\tname = Test User', '\temail = test@example.com', '[init]', '\tdefaultBranch = main', '[commit]', '\tgpgSign = false', '[gc]', '\tauto = 0', '[maintenance]', '\tauto = false', ''].join('\n'),
);
process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = gitconfig;
process.env.XDG_CONFIG_HOME = path.join(dir, 'xdg');
process.env.CKPT_TEST_ENV_DIR = dir;
// Daemons auto-started by the tests' hooks, watches, rollbacks and races stop after 20 s without
// work instead of 30 min (they would pile up over a run); a test's own daemon says --idle itself.
process.env.CKPT_DAEMON_IDLE ??= '20s';
for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR', 'GIT_CEILING_DIRECTORIES']) delete process.env[k];

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
