/**
 * A repository set up for races with the fake agents of test/fixtures/agents:
 * a small app whose check (`node check.mjs`) passes once f() returns 2,
 * ignored files (.env, node_modules/, *.log), and `.ckpt/config.json`
 * naming each fake agent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRepo, tempDir, write } from './repo.js';

export const AGENTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'agents');

/** Every fake agent, as the config's custom agents (task as one argv element). */
export function agentConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const agents: Record<string, unknown> = {};
  for (const f of fs.readdirSync(AGENTS_DIR)) {
    if (!f.endsWith('.mjs')) continue;
    const name = f.replace(/\.mjs$/, '');
    agents[name] = { command: [process.execPath, path.join(AGENTS_DIR, f), '{task}'], ...(name === 'fast' ? { output: 'claude-json' } : {}) };
  }
  agents['stdin-editor'] = { command: [process.execPath, path.join(AGENTS_DIR, 'editor.mjs')], stdin: true, env: { AGENT_READ_STDIN: '1' } };
  return { agents, ...extra };
}

/** A repository ready to race in; returns its path and a worktree dir outside it. */
export function raceRepo(race: Record<string, unknown> = {}): { dir: string; worktrees: string } {
  const dir = makeRepo({
    'README.md': '# app\n',
    'src/app.js': 'export function f() {\n  return 1;\n}\n',
    'check.mjs': "import { f } from './src/app.js';\nif (f() !== 2) { console.error('f() is ' + f()); process.exit(1); }\nconsole.log('ok');\n",
    '.gitignore': '.env\nnode_modules/\n*.log\n',
    'package.json': '{"type":"module"}\n',
  });
  write(dir, { '.env': 'API_KEY=secret\n', 'node_modules/dep/index.js': 'module.exports = 1;\n', 'debug.log': 'log\n' });
  const worktrees = tempDir('ckpt-wt-');
  write(dir, { '.ckpt/config.json': JSON.stringify(agentConfig({ race: { worktreeDir: worktrees, ...race } }), null, 2) });
  return { dir, worktrees };
}
