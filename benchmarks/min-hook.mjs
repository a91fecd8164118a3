#!/usr/bin/env node
// Not ckpt: the least a Node hook process can do to record a snapshot with
// the same git plumbing, as a floor for `ckpt hook claude` in lib/hook.mjs.
// Node built-ins only (no execa, no lock library); 5 git processes:
// rev-parse (find the repo, as openRepo does), `add -A` into a persistent
// private index (.git/bench-min-hook/index, seeded from the user's index),
// write-tree, commit-tree, update-ref of refs/ckpt-bench/min-hook. The parent
// commit is read from the ref file directly. No lock, no dedup, no message
// parsing, no index commit: a lower bound, not a design.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

function git(args, { cwd, env, input } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn('git', args, { cwd, env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    p.stdout.on('data', (c) => out.push(c));
    p.stderr.on('data', (c) => err.push(c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString('utf8').trim()) : reject(new Error(`git ${args[0]} exited ${code}: ${Buffer.concat(err)}`))));
    if (input !== undefined) p.stdin.end(input);
  });
}

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const payload = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
const cwd = payload.cwd || process.cwd();
const [gitDir, top] = (await git(['rev-parse', '--absolute-git-dir', '--show-toplevel'], { cwd })).split('\n');
const stateDir = path.join(gitDir, 'bench-min-hook');
const index = path.join(stateDir, 'index');
if (!existsSync(index)) {
  mkdirSync(stateDir, { recursive: true });
  copyFileSync(path.join(gitDir, 'index'), index);
}
const env = { GIT_INDEX_FILE: index, GIT_DIR: gitDir, GIT_WORK_TREE: top };
await git(['add', '-A'], { cwd: top, env });
const tree = await git(['write-tree'], { cwd: top, env });
const ref = 'refs/ckpt-bench/min-hook';
let parent = null;
try {
  parent = readFileSync(path.join(gitDir, ref), 'utf8').trim();
} catch {
  parent = null;
}
const msg = `${payload.hook_event_name ?? 'hook'} ${payload.tool_name ?? ''}\n`;
const commit = await git(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'], { cwd: top, env, input: msg });
await git(['update-ref', ref, commit, ...(parent ? [parent] : [])], { cwd: top, env: { GIT_DIR: gitDir } });
