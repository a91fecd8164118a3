/**
 * The watcher next to agent hooks on one worktree, and the watcher's own
 * failures: real chokidar, real hook processes, real git.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listSteps, openRepo, startWatching } from '../src/index.js';
import { CLI, makeRepo, storeGit, write } from './support/repo.js';

/** Runs `ckpt hook claude` as Claude Code would: a new process, the payload on stdin. */
function hook(dir: string, event: 'PreToolUse' | 'PostToolUse', i: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, 'hook', 'claude'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    p.on('error', reject);
    p.on('close', (code) => resolve(code ?? -1));
    p.stdin.end(JSON.stringify({ hook_event_name: event, cwd: dir, tool_name: 'Bash', tool_input: { command: `step ${i}` }, tool_use_id: `toolu_${i}` }));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('watch', () => {
  it('takes turns with agent hooks on the same worktree: every pair recorded, one unbroken chain, no hook error', async () => {
    const dir = makeRepo({ 'README.md': '# w\n' });
    const repo = await openRepo(dir);
    const errors: unknown[] = [];
    const watching = await startWatching([dir], { quietMs: 50, maxWaitMs: 200, onError: (_r, e) => errors.push(e) });
    try {
      for (let i = 0; i < 4; i++) {
        // The agent's tool call: a before hook, files written while the watcher fires, an after hook.
        const pre = hook(dir, 'PreToolUse', i);
        write(dir, { [`gen/file-${i}.txt`]: `content ${i}\n`, 'README.md': `# w\nstep ${i}\n` });
        expect(await pre).toBe(0);
        await sleep(120); // let the watcher's settle timer fire in the middle
        write(dir, { [`gen/more-${i}.txt`]: 'x'.repeat(i + 1) });
        expect(await hook(dir, 'PostToolUse', i)).toBe(0);
      }
      await watching.flush();
    } finally {
      await watching.close();
    }
    expect(errors).toEqual([]);
    expect(fs.existsSync(path.join(repo.commonDir, 'ckpt', 'hook.log'))).toBe(false);
    const steps = await listSteps(repo, { stats: false });
    // One chain, consecutive steps: no snapshot lost to a concurrent writer.
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, k) => steps.length - k));
    for (let i = 0; i < 4; i++) {
      expect(steps.filter((s) => s.toolUseId === `toolu_${i}`).map((s) => s.kind).sort()).toEqual(['after', 'before']);
    }
    // The final state is in the chain, byte for byte.
    const tip = steps[0]!;
    expect(storeGit(dir, 'cat-file', 'blob', `${tip.tree}:gen/more-3.txt`)).toBe('xxxx');
  });

  it('reports a snapshot that fails and goes on watching', async () => {
    const dir = makeRepo({ 'README.md': '# w\n' });
    const repo = await openRepo(dir);
    const errors: Array<{ code?: string }> = [];
    const watching = await startWatching([dir], { quietMs: 50, maxWaitMs: 200, onError: (_r, e) => errors.push(e as { code?: string }) });
    try {
      // A nested repository without a commit: git refuses to add it, so the snapshot fails.
      fs.mkdirSync(path.join(dir, 'nested'));
      execFileSync('git', ['init', '-q'], { cwd: path.join(dir, 'nested') });
      write(dir, { 'nested/a.txt': 'a\n' });
      for (let t = 0; t < 100 && errors.length === 0; t++) await sleep(50);
      expect(errors[0]?.code).toBe('GIT_FAILED');
      // The cause goes away; the next change is recorded as usual.
      fs.rmSync(path.join(dir, 'nested'), { recursive: true, force: true });
      write(dir, { 'after.txt': 'recorded\n' });
      let found = false;
      for (let t = 0; t < 100 && !found; t++) {
        await sleep(50);
        const steps = await listSteps(repo, { stats: false });
        found = steps.length > 0 && storeGit(dir, 'ls-tree', '--name-only', steps[0]!.tree).includes('after.txt');
      }
      expect(found).toBe(true);
    } finally {
      await watching.close();
    }
  });
});
