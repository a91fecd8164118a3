/**
 * Who is waiting for you, with the REAL Claude Code client (test/support/clients.ts)
 * driven offline by the scripted model server: hooks installed by `ckpt hooks install
 * claude`, a Bash call the settings do not allow, so the client asks for permission.
 * Headless, the client asks through its stdio control protocol (`--input-format
 * stream-json --permission-prompt-tool stdio`, as the Agent SDK does) and fires
 * PermissionRequest; the test answers on the client's stdin. `ckpt agents --json` must
 * show "waiting for input", then "running" once answered, then idle and finished; and
 * stale once the client is killed. The time from the client's request to `ckpt agents`
 * showing it is printed (a measured number; docs/agents.md), never asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer, type Script } from './support/model-server.js';
import { TEST_MODELS, claudeEnv, ensureClient, needClient, type EnsureResult } from './support/clients.js';
import { killProcessesIn } from './support/procs.js';
import { CLI, makeRepo } from './support/repo.js';

const INSTALL_TIMEOUT = 15 * 60_000;
const BOUND_MS = 30_000;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
});

interface Row {
  worktree: string;
  agent: string | null;
  status: string;
  statusText: string;
  changed: number | null;
  changedPaths: { status: string; path: string }[];
  lastStep: { kind: string; tool: string | null } | null;
  state: { pid: number | null; sessionId: string | null; reason: string | null; tool: string | null; waitingSince: number | null } | null;
}

/** `ckpt agents --json`, the row of `dir`. */
async function agentRow(dir: string): Promise<Row> {
  const r = await execa(process.execPath, [CLI, 'agents', '--json'], { cwd: dir, reject: false });
  if (r.exitCode !== 0) throw new Error(`ckpt agents failed: ${r.stdout}\n${r.stderr}`);
  return (JSON.parse(r.stdout).agents as Row[]).find((x) => x.worktree === dir)!;
}

/** Polls `ckpt agents --json` until `ok` holds for `dir`'s row; the bound is only reached by a real failure. */
async function until(dir: string, what: string, ok: (r: Row) => boolean): Promise<Row> {
  const end = Date.now() + BOUND_MS;
  let last: Row | undefined;
  while (Date.now() < end) {
    last = await agentRow(dir);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${what} within ${BOUND_MS} ms; last: ${JSON.stringify(last)}`);
}

/** The client's stream-json stdout, one message at a time. */
function messages(child: ChildProcess): { next(pred: (m: any) => boolean, what: string): Promise<any>; all: any[] } {
  const all: any[] = [];
  const waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let m: any;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      all.push(m);
      for (const w of waiters.splice(0)) (w.pred(m) ? w.resolve(m) : waiters.push(w));
    }
  });
  return {
    all,
    next: (pred, what) =>
      new Promise((resolve, reject) => {
        const seen = all.find(pred);
        if (seen) return resolve(seen);
        const t = setTimeout(() => reject(new Error(`the client sent no ${what} within 120 s`)), 120_000);
        waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
      }),
  };
}

async function startClaude(bin: string, dir: string, script: Script): Promise<{ child: ChildProcess; out: ReturnType<typeof messages>; srv: ModelServer; stderr: () => string }> {
  const srv = await startModelServer(script);
  cleanups.push(() => srv.close());
  const { env, cleanup } = await claudeEnv({ url: srv.url });
  cleanups.push(cleanup);
  const argv = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio', '--model', TEST_MODELS.claude];
  const child = spawn(bin, argv, { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(() => killProcessesIn(dir));
  cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdin!.on('error', () => undefined);
  const out = messages(child);
  child.stdin!.write(JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'Write hi to out.txt with the shell.' }] } }) + '\n');
  return { child, out, srv, stderr: () => stderr };
}

const exited = (c: ChildProcess): Promise<unknown> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.on('exit', r)));

describe('ckpt agents with the real Claude Code client', () => {
  let claude: EnsureResult | undefined;
  beforeAll(async () => {
    claude = await ensureClient('claude');
  }, INSTALL_TIMEOUT);

  it('a permission request is "waiting for input" (since when, why), "running" once answered, idle after the reply, finished at the end', { timeout: 240_000 }, async (ctx) => {
    needClient(ctx, claude);
    const dir = makeRepo({ 'README.md': '# p\n' });
    expect((await execa(process.execPath, [CLI, 'hooks', 'install', 'claude'], { cwd: dir })).exitCode).toBe(0);
    let release = (): void => undefined;
    const hold = new Promise<void>((r) => (release = r));
    // Turn 2 (the reply after the tool) is held until the test has seen "running".
    const { child, out, stderr } = await startClaude(claude.bin, dir, { turns: [{ bash: 'echo hi > out.txt' }, { final: 'done', hold }] });
    const init = await out.next((m) => m.type === 'system' && m.subtype === 'init', 'init message');
    const req = await out.next((m) => m.type === 'control_request' && m.request?.subtype === 'can_use_tool', 'permission request');
    const asked = Date.now();
    expect(req.request).toMatchObject({ tool_name: 'Bash', input: { command: 'echo hi > out.txt' } });

    const waiting = await until(dir, '"waiting for input"', (r) => r.status === 'waiting');
    const shownMs = Date.now() - asked;
    const recordedMs = waiting.state!.waitingSince! - asked;
    console.log(`ckpt agents showed "waiting for input" ${shownMs} ms after Claude Code asked for permission (polling ckpt agents --json, each call a new process); the hook recorded the wait ${recordedMs} ms after the request reached the test`);
    expect(waiting).toMatchObject({ agent: 'claude', state: { reason: 'permission', tool: 'Bash', pid: child.pid, sessionId: init.session_id } });
    expect(waiting.statusText).toMatch(/^waiting for input \(permission: Bash\) since \d\d:\d\d:\d\d$/);
    expect(fs.existsSync(path.join(dir, 'out.txt'))).toBe(false); // nothing ran before the answer

    child.stdin!.write(JSON.stringify({ type: 'control_response', response: { subtype: 'success', request_id: req.request_id, response: { behavior: 'allow', updatedInput: req.request.input } } }) + '\n');
    // The state is written before the hook's snapshot: wait for both (the model is held meanwhile, so "running" lasts).
    const running = await until(dir, '"running" after the answer, with its after step', (r) => r.status === 'running' && r.lastStep?.kind === 'after');
    expect(running.statusText).toBe('running');
    expect(running.state!.waitingSince).toBeNull();
    expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('hi\n');
    expect(running).toMatchObject({ lastStep: { kind: 'after', tool: 'Bash' }, changed: 1, changedPaths: [{ status: 'A', path: 'out.txt' }] });

    release();
    await out.next((m) => m.type === 'result', 'result');
    await until(dir, 'idle after the reply', (r) => r.status === 'idle');
    child.stdin!.end();
    await exited(child);
    const done = await until(dir, 'finished after the session ended', (r) => r.status === 'finished');
    expect(done.statusText).toBe('finished');
    const hookLog = path.join(dir, '.git', 'ckpt', 'hook.log');
    expect(fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8') : '', stderr()).toBe('');
  });

  it('stale once the client is killed while it waits: never shown as live', { timeout: 240_000 }, async (ctx) => {
    needClient(ctx, claude);
    const dir = makeRepo({ 'README.md': '# p\n' });
    expect((await execa(process.execPath, [CLI, 'hooks', 'install', 'claude'], { cwd: dir })).exitCode).toBe(0);
    const { child, out } = await startClaude(claude.bin, dir, { turns: [{ bash: 'echo hi > out.txt' }, { final: 'done' }] });
    await out.next((m) => m.type === 'control_request', 'permission request');
    await until(dir, '"waiting for input"', (r) => r.status === 'waiting');
    child.kill('SIGKILL');
    await exited(child);
    const stale = await until(dir, 'stale', (r) => r.status === 'stale');
    expect(stale.statusText).toMatch(new RegExp(`^stale \\(was waiting for input; its process ${child.pid} is gone\\)$`));
    const text = await execa(process.execPath, [CLI, 'agents'], { cwd: dir, env: { NO_COLOR: '1' } });
    expect(text.stdout).toContain('stale (was waiting for input');
    expect(text.stdout).not.toContain('waiting for input (permission');
  });
});
