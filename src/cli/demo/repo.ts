/** The demo's throwaway repository: a small app with a commit, staged work, and ignored files. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function sh(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
}

/** Creates the demo repository: a small app with a commit, staged work, and ignored files. */
export function makeDemoRepo(root: string): string {
  const dir = path.join(root, 'app');
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  mkdirSync(path.join(dir, 'node_modules', 'left-pad'), { recursive: true });
  writeFileSync(path.join(dir, 'README.md'), '# demo app\n');
  writeFileSync(path.join(dir, 'NOTES.md'), '# notes\n');
  writeFileSync(path.join(dir, 'config.yml'), 'name: demo\nversion: 1\n');
  writeFileSync(path.join(dir, 'src', 'app.js'), "import { pad } from './util.js';\nconsole.log(pad('Hello'));\n");
  writeFileSync(path.join(dir, 'src', 'util.js'), "export const pad = (s) => ' ' + s;\n");
  writeFileSync(path.join(dir, 'scripts', 'build.sh'), '#!/bin/sh\necho building\n');
  writeFileSync(path.join(dir, 'test.js'), "import './src/app.js';\n");
  writeFileSync(path.join(dir, '.gitignore'), 'node_modules/\n.env\n');
  writeFileSync(path.join(dir, '.env'), 'SECRET=do-not-lose-me\n');
  writeFileSync(path.join(dir, 'node_modules', 'left-pad', 'index.js'), 'module.exports = 1;\n');
  const id = ['-c', 'user.name=Demo', '-c', 'user.email=demo@example.com', '-c', 'commit.gpgSign=false'];
  sh(dir, ['init', '-q', '-b', 'main']);
  sh(dir, ['add', '-A']);
  sh(dir, [...id, 'commit', '-q', '-m', 'initial']);
  // The user's own staged work, which ckpt must never touch.
  writeFileSync(path.join(dir, 'README.md'), '# demo app\n\nStaged by the user.\n');
  sh(dir, ['add', 'README.md']);
  return dir;
}
