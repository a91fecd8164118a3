/**
 * The hook as Claude Code runs it (the installed `ckpt-hook.cjs claude`): real hook processes, many at
 * once, next to a watcher and a user committing; and every sort of stdin.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo, startWatching } from '../src/index.js';
import { withWorktreeLock } from '../src/snapshot/lock.js';
import { serveQueuedRequests } from '../src/snapshot/queue.js';
import { startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { CLI, HOOK, git, indexBytes, makeRepo, picture, storeGit, write } from './support/repo.js';
import { until } from './support/wait.js';

const run = promisify(execFile);

/** Runs the hook (`ckpt-hook.cjs claude`, as installed) as Claude Code would: a new process, `stdin` as given; resolves with its exit code and output. */
function hook(dir: string, stdin: string | Buffer, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A hook that asks for the daemon (CKPT_DAEMON=1) gets it in the direct project too (its CKPT_NO_DAEMON=1 would win).
    const ask = env.CKPT_DAEMON === '1' ? { CKPT_NO_DAEMON: undefined } : {};
    const p = spawn(process.execPath, [HOOK, 'claude'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...ask, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.on('error', () => undefined);
    p.stdin.end(stdin);
  });
}

function payload(dir: string, event: 'PreToolUse' | 'PostToolUse', id: string): string {
  return JSON.stringify({ hook_event_name: event, cwd: dir, tool_name: 'Bash', tool_input: { command: `step ${id}` }, tool_use_id: id, session_id: 's' });
}

/** How many requests the daemon of `dir` is waiting on or serving for its worktree. */
function daemonBusy(dir: string): number {
  return testDaemonStatus(dir).status?.worktrees?.[0]?.busy ?? 0;
}

const queued = (queue: string): number => (fs.existsSync(queue) ? fs.readdirSync(queue).filter((f) => f.endsWith('.req')).length : 0);

describe('hook claude', () => {
  afterEach(() => stopTestDaemons());

  it('10 parallel hooks x 5 rounds, with a watcher running and the user committing: every tool call has its before and after', async () => {
    const dir = makeRepo({ 'README.md': '# p\n' });
    const repo = await openRepo(dir);
    const errors: unknown[] = [];
    const watching = await startWatching([dir], { quietMs: 30, maxWaitMs: 150, onError: (_r, e) => errors.push(e) });
    let committing = true;
    const commits = (async () => {
      // The user, committing in a loop while the agent works.
      for (let n = 0; committing; n++) {
        write(dir, { 'user.txt': `user ${n}\n` });
        await run('git', ['add', 'user.txt'], { cwd: dir });
        await run('git', ['commit', '-q', '-m', `user ${n}`], { cwd: dir });
      }
    })();
    const ids: string[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        const batch = Array.from({ length: 10 }, (_, k) => `toolu_${round}_${k}`);
        ids.push(...batch);
        const pre = await Promise.all(batch.map((id) => hook(dir, payload(dir, 'PreToolUse', id))));
        expect(pre.map((r) => r.code)).toEqual(batch.map(() => 0));
        for (const id of batch) write(dir, { [`gen/${id}.txt`]: `${id}\n` });
        const post = await Promise.all(batch.map((id) => hook(dir, payload(dir, 'PostToolUse', id))));
        expect(post.map((r) => [r.code, r.stdout])).toEqual(batch.map(() => [0, '']));
      }
    } finally {
      committing = false;
      await commits;
      await watching.close();
    }
    expect(errors).toEqual([]);
    const logFile = path.join(repo.commonDir, 'ckpt', 'hook.log');
    expect(fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '').toBe('');
    const steps = await listSteps(repo, { stats: false });
    // One unbroken chain.
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, k) => steps.length - k));
    for (const id of ids) {
      const kinds = steps.filter((s) => s.toolUseIds.includes(id)).map((s) => s.kind);
      expect({ id, kinds: kinds.sort() }).toEqual({ id, kinds: ['after', 'before'] });
    }
    // Some hooks were served together (that is what kept them all), and `ckpt log --json` shows their ids.
    expect(steps.some((s) => s.toolUseIds.length > 1)).toBe(true);
    const log = JSON.parse((await run(process.execPath, [CLI, 'log', '--json'], { cwd: dir })).stdout) as { steps: { toolUseIds: string[] }[] };
    expect(new Set(log.steps.flatMap((s) => s.toolUseIds))).toEqual(new Set(ids));
    // Every after snapshot of a round holds that round's files.
    const lastAfter = steps.find((s) => s.kind === 'after' && s.toolUseIds.includes('toolu_4_9'))!;
    expect(storeGit(dir, 'cat-file', 'blob', `${lastAfter.tree}:gen/toolu_4_9.txt`)).toBe('toolu_4_9\n');
    // Nothing left in the queue.
    expect(fs.readdirSync(path.join(repo.stateDir, 'queue'))).toEqual([]);
  }, 240_000);

  it('exits 0 and prints nothing for any stdin, logs what it could not use, and changes no byte of the worktree', async () => {
    const dir = makeRepo({ 'README.md': '# in\n', '.gitignore': 'ignored.txt\n' });
    write(dir, { 'ignored.txt': 'secret\n', 'untracked.txt': 'u\n' });
    const repo = await openRepo(dir);
    const logFile = path.join(repo.commonDir, 'ckpt', 'hook.log');
    const before = picture(dir);
    const index0 = indexBytes(dir);
    const huge = JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Write', tool_input: { file_path: path.join(dir, 'big.txt'), content: 'x'.repeat(20 * 1024 * 1024) }, tool_use_id: 'toolu_huge' });
    const table: { name: string; stdin: string | Buffer; logs: RegExp | null; snapshot: boolean }[] = [
      { name: 'null', stdin: 'null', logs: /stdin is null, not a JSON object/, snapshot: false },
      { name: 'an array', stdin: '[1,2]', logs: /stdin is an array/, snapshot: false },
      { name: 'a number', stdin: '42', logs: /stdin is a number/, snapshot: false },
      { name: 'a string', stdin: '"PreToolUse"', logs: /stdin is a string/, snapshot: false },
      { name: 'garbage', stdin: '{"hook_event_name": PreTool', logs: /stdin is not JSON/, snapshot: false },
      { name: 'binary', stdin: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), logs: /stdin is not JSON/, snapshot: false },
      { name: 'empty', stdin: '', logs: /stdin was empty/, snapshot: false },
      { name: 'fields of the wrong type', stdin: JSON.stringify({ hook_event_name: 'PreToolUse', cwd: 7, tool_name: ['Bash'], tool_input: 'rm -rf /', tool_use_id: null }), logs: /cwd is number, not a string: ignored/, snapshot: true },
      { name: 'a relative cwd', stdin: JSON.stringify({ hook_event_name: 'PostToolUse', cwd: '../elsewhere', tool_name: 'Edit', tool_use_id: 'toolu_rel' }), logs: /not an absolute path/, snapshot: true },
      { name: 'an unknown event', stdin: JSON.stringify({ hook_event_name: 'Stop', cwd: dir }), logs: null, snapshot: false },
      { name: 'huge (20 MiB tool input)', stdin: huge, logs: null, snapshot: true },
    ];
    for (const row of table) {
      const stepsBefore = (await listSteps(repo, { stats: false })).length;
      fs.rmSync(logFile, { force: true });
      const r = await hook(dir, row.stdin);
      expect({ row: row.name, code: r.code, stdout: r.stdout }).toEqual({ row: row.name, code: 0, stdout: '' });
      const logged = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      if (row.logs) expect(logged, row.name).toMatch(row.logs);
      else expect(logged, row.name).toBe('');
      expect(logged, row.name).not.toMatch(/INTERNAL|TypeError|    at /);
      const stepsAfter = (await listSteps(repo, { stats: false })).length;
      expect({ row: row.name, recorded: stepsAfter - stepsBefore }).toEqual({ row: row.name, recorded: row.snapshot ? 1 : 0 });
    }
    const steps = await listSteps(repo, { stats: false });
    expect(steps[0]!.toolUseIds).toEqual(['toolu_huge']);
    expect(steps[0]!.target).toBe('big.txt');
    expect(steps[1]).toMatchObject({ kind: 'after', tool: 'Edit', toolUseIds: ['toolu_rel'] });
    expect(steps[2]).toMatchObject({ kind: 'before', tool: 'tool', toolUseIds: [] });
    expect(picture(dir)).toEqual(before);
    expect(indexBytes(dir).equals(index0)).toBe(true);
  }, 120_000);

  it('hooks install claude over a malformed settings file: AGENT_SETTINGS_INVALID naming the file and the error, nothing changed', () => {
    const dir = makeRepo();
    const file = path.join(dir, '.claude', 'settings.local.json');
    const exclude = path.join(dir, '.git', 'info', 'exclude');
    const exclude0 = fs.readFileSync(exclude);
    const table: [string, string, RegExp][] = [
      ['invalid JSON', '{\n  "hooks": {,\n}', /is not valid JSON \(line 2, column \d+\)/],
      ['empty', '', /is not valid JSON/],
      ['an array', '[]', /holds an array, not a JSON object/],
      ['null', 'null', /holds null/],
      ['hooks a string', '{"hooks": "x"}', /"hooks" is a string/],
      ['an event not an array', '{"hooks": {"PreToolUse": {}}}', /hooks\.PreToolUse is an object, not an array/],
      ['a null matcher', '{"hooks": {"PreToolUse": [null]}}', /hooks\.PreToolUse\[0\] is null/],
      ['hooks of a matcher a number', '{"hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": 5}]}}', /hooks\.PostToolUse\[0\]\.hooks is a number/],
      ['a hook entry a string', '{"hooks": {"PostToolUse": [{"hooks": ["ckpt"]}]}}', /hooks\.PostToolUse\[0\]\.hooks\[0\] is a string/],
    ];
    for (const [name, text, message] of table) {
      write(dir, { '.claude/settings.local.json': text });
      for (const verb of ['install', 'uninstall']) {
        const r = spawnSync(process.execPath, [CLI, 'hooks', verb, 'claude', '--json'], { cwd: dir, encoding: 'utf8' });
        expect({ name, verb, status: r.status }).toEqual({ name, verb, status: 2 });
        const err = (JSON.parse(r.stdout) as { error: { code: string; message: string; data: { file: string } } }).error;
        expect({ name, code: err.code, file: err.data.file }).toEqual({ name, code: 'AGENT_SETTINGS_INVALID', file });
        expect(err.message).toContain(file);
        expect(err.message).toMatch(message);
        expect(fs.readFileSync(file, 'utf8')).toBe(text);
        expect(fs.readFileSync(exclude).equals(exclude0)).toBe(true);
      }
    }
    const human = spawnSync(process.execPath, [CLI, 'hooks', 'install', 'claude'], { cwd: dir, encoding: 'utf8' });
    expect(human.stderr).toMatch(/error: .*settings\.local\.json/);
    expect(human.stderr).not.toMatch(/INTERNAL|    at /);
  });

  it('hooks install keeps .claude/settings.local.json out of snapshots through info/exclude; uninstall removes only the rule it added', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    const exclude = path.join(dir, '.git', 'info', 'exclude');
    const exclude0 = fs.readFileSync(exclude);
    const ckpt = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
    expect(ckpt('hooks', 'install', 'claude').status).toBe(0);
    expect(fs.readFileSync(exclude, 'utf8')).toContain('\n/.claude/settings.local.json\n');
    write(dir, { '.claude/other.json': '{}\n' });
    expect(ckpt('snap').status).toBe(0);
    const tip = (await listSteps(repo, { stats: false }))[0]!;
    const files = storeGit(dir, 'ls-tree', '-r', '--name-only', tip.tree).split('\n');
    expect(files).toContain('.claude/other.json');
    expect(files).not.toContain('.claude/settings.local.json');
    expect(git(dir, 'status', '--porcelain')).not.toContain('settings.local.json');
    expect(ckpt('hooks', 'install', 'claude').status).toBe(0); // twice: one rule
    expect(fs.readFileSync(exclude, 'utf8').split('/.claude/settings.local.json').length).toBe(2);
    expect(ckpt('hooks', 'uninstall', 'claude').status).toBe(0);
    expect(fs.readFileSync(exclude).equals(exclude0)).toBe(true);

    // A user who already ignores the file: no rule added, and theirs is never removed.
    const other = makeRepo({ '.gitignore': '.claude/settings.local.json\n' });
    const ex1 = fs.readFileSync(path.join(other, '.git', 'info', 'exclude'));
    const r = spawnSync(process.execPath, [CLI, 'hooks', 'install', 'claude', '--json'], { cwd: other, encoding: 'utf8' });
    expect((JSON.parse(r.stdout) as { excluded: boolean }).excluded).toBe(false);
    expect(spawnSync(process.execPath, [CLI, 'hooks', 'uninstall', 'claude'], { cwd: other }).status).toBe(0);
    expect(fs.readFileSync(path.join(other, '.git', 'info', 'exclude')).equals(ex1)).toBe(true);
    expect(fs.readFileSync(path.join(other, '.gitignore'), 'utf8')).toBe('.claude/settings.local.json\n');
  });

  it('a hook waiting while another process holds the worktree lock all along is served by that holder (as the watcher does before it releases the lock)', async () => {
    const dir = makeRepo({ 'README.md': '# s\n' });
    const repo = await openRepo(dir);
    const queue = path.join(repo.stateDir, 'queue');
    const logFile = path.join(repo.commonDir, 'ckpt', 'hook.log');
    const res = await withWorktreeLock(repo, async () => {
      const waiting = hook(dir, payload(dir, 'PreToolUse', 'toolu_held'));
      // Until its request is queued (the hook cannot get the lock: this process holds it throughout).
      const bound = Date.now() + 60_000;
      while (!(fs.existsSync(queue) && fs.readdirSync(queue).some((f) => f.endsWith('.req')))) {
        if (Date.now() > bound) throw new Error('the hook queued no request');
        await new Promise((r) => setTimeout(r, 20));
      }
      const served = await serveQueuedRequests(repo);
      return { served, hook: await waiting };
    });
    expect(res).toEqual({ served: 1, hook: { code: 0, stdout: '', stderr: '' } });
    expect(fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '').toBe('');
    const steps = await listSteps(repo, { stats: false });
    expect(steps.map((s) => [s.kind, s.toolUseIds])).toEqual([['before', ['toolu_held']]]);
    expect(fs.readdirSync(queue)).toEqual([]);
    // Nothing queued: nothing served, nothing recorded.
    expect(await withWorktreeLock(repo, () => serveQueuedRequests(repo))).toBe(0);
    expect((await listSteps(repo, { stats: false })).length).toBe(1);
  });

  it('a request left by a hook that was killed while waiting is dropped, never recorded late; a live one is served', async () => {
    const dir = makeRepo({ 'README.md': '# q\n' });
    const repo = await openRepo(dir);
    expect((await hook(dir, payload(dir, 'PreToolUse', 'toolu_first'))).code).toBe(0);
    // What a hook killed by the agent's timeout leaves in the queue: its request, naming a pid that is gone.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const queue = path.join(repo.stateDir, 'queue');
    const ns = fs.readlinkSync('/proc/self/ns/pid');
    fs.writeFileSync(path.join(queue, '000000000000001-1-dead.req'), JSON.stringify({ kind: 'after', tool: 'Bash', toolUseId: 'toolu_killed', pid: gone, host: os.hostname(), ns, time: 1 }));
    expect((await hook(dir, payload(dir, 'PostToolUse', 'toolu_first'))).code).toBe(0);
    const steps = await listSteps(repo, { stats: false });
    expect(steps.map((s) => [s.kind, s.toolUseIds])).toEqual([
      ['after', ['toolu_first']],
      ['before', ['toolu_first']],
    ]);
    expect(fs.readdirSync(queue)).toEqual([]);
  });
  it('a hook of the direct path waiting behind the daemon is served by the daemon, in one step with the hook the daemon was asked for', async () => {
    const dir = makeRepo({ 'README.md': '# d\n' });
    const repo = await openRepo(dir);
    startTestDaemon(dir);
    const queue = path.join(repo.stateDir, 'queue');
    const logFile = path.join(repo.commonDir, 'ckpt', 'hook.log');
    let direct!: Promise<{ code: number; stdout: string; stderr: string }>;
    let daemon!: Promise<{ code: number; stdout: string; stderr: string }>;
    await withWorktreeLock(repo, async () => {
      write(dir, { 'a.txt': 'written before both hooks\n' });
      // The daemon's hook waits for the lock inside the daemon; the direct one queues its request.
      daemon = hook(dir, payload(dir, 'PreToolUse', 'toolu_daemon'), { CKPT_DAEMON: '1', CKPT_NO_DAEMON: '0' });
      await until(() => daemonBusy(dir) >= 1, 'the daemon holds the request');
      direct = hook(dir, payload(dir, 'PreToolUse', 'toolu_direct'), { CKPT_NO_DAEMON: '1' });
      await until(() => queued(queue) === 1, 'the direct hook queued its request');
    });
    expect([await daemon, await direct]).toEqual([
      { code: 0, stdout: '', stderr: '' },
      { code: 0, stdout: '', stderr: '' },
    ]);
    expect(fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '').toBe('');
    const steps = await listSteps(repo, { stats: false });
    // The daemon's snapshot served the request of the file queue too (only it knew both ids): one step.
    expect(steps.filter((s) => s.kind === 'before').map((s) => [...s.toolUseIds].sort())).toEqual([['toolu_daemon', 'toolu_direct']]);
    expect(storeGit(dir, 'cat-file', 'blob', `${steps[0]!.tree}:a.txt`)).toBe('written before both hooks\n');
    expect(fs.readdirSync(queue)).toEqual([]);
  });

  it('a hook whose CKPT_RACE_ID or CKPT_ATTEMPT is not a race id or an attempt name records its step without race trailers, through the daemon and directly; hook.log says why', async () => {
    for (const via of ['daemon', 'direct'] as const) {
      const dir = makeRepo({ 'README.md': `# ${via}\n` });
      const repo = await openRepo(dir);
      if (via === 'daemon') startTestDaemon(dir);
      const env = via === 'daemon' ? { CKPT_DAEMON: '1', CKPT_NO_DAEMON: '0' } : { CKPT_NO_DAEMON: '1' };
      const bad = [
        { CKPT_RACE_ID: 'x\nKind: manual', CKPT_ATTEMPT: 'claude' },
        { CKPT_RACE_ID: '20261202-131500-a1b2', CKPT_ATTEMPT: 'claude\nHead: 0000' },
      ];
      for (const [i, race] of bad.entries()) {
        const id = `toolu_bad_${via}_${i}`;
        const r = await hook(dir, payload(dir, 'PreToolUse', id), { ...env, ...race, CKPT_ROUND: '1' });
        expect(r.code).toBe(0);
        const [step] = await listSteps(repo, { stats: false });
        expect({ via, i, kind: step!.kind, ids: step!.toolUseIds, extra: step!.extra }).toEqual({ via, i, kind: 'before', ids: [id], extra: {} });
        const message = storeGit(dir, 'cat-file', 'commit', step!.id);
        expect(message).not.toMatch(/^(Kind: manual|Head: 0000)$/m);
      }
      const log = fs.readFileSync(path.join(repo.commonDir, 'ckpt', 'hook.log'), 'utf8');
      expect(log.match(/CKPT_RACE_ID or CKPT_ATTEMPT is not valid/g)?.length, log).toBe(2);
      // A good race still gets its trailers.
      await hook(dir, payload(dir, 'PreToolUse', `toolu_good_${via}`), { ...env, CKPT_RACE_ID: '20261202-131500-a1b2', CKPT_ATTEMPT: 'claude-2', CKPT_ROUND: '1' });
      expect((await listSteps(repo, { stats: false }))[0]!.extra).toEqual({ Race: '20261202-131500-a1b2', Attempt: 'claude-2', Round: '1' });
      stopTestDaemons();
    }
  });

  it('hooks of two race rounds waiting together are two steps, each with its round (through the daemon and through the file queue)', async () => {
    const race = (round: string): NodeJS.ProcessEnv => ({ CKPT_RACE_ID: '20261202-131500-a1b2', CKPT_ATTEMPT: 'fixer', CKPT_ROUND: round });
    for (const via of ['daemon', 'queue'] as const) {
      const dir = makeRepo({ 'README.md': `# ${via}\n` });
      const repo = await openRepo(dir);
      const queue = path.join(repo.stateDir, 'queue');
      if (via === 'daemon') startTestDaemon(dir);
      const env = via === 'daemon' ? { CKPT_DAEMON: '1', CKPT_NO_DAEMON: '0' } : { CKPT_NO_DAEMON: '1' };
      const results = await withWorktreeLock(repo, async () => {
        const waiting: ReturnType<typeof hook>[] = [];
        if (via === 'daemon') {
          // The daemon's snapshot in flight (waiting for this lock) takes this one; the next two wait together.
          waiting.push(hook(dir, payload(dir, 'PostToolUse', 'toolu_r0'), { ...env, ...race('1') }));
          await until(() => daemonBusy(dir) >= 1, 'the daemon holds the first request');
        }
        waiting.push(hook(dir, payload(dir, 'PreToolUse', 'toolu_r1'), { ...env, ...race('1') }), hook(dir, payload(dir, 'PreToolUse', 'toolu_r2'), { ...env, ...race('2') }));
        if (via === 'daemon') await until(() => daemonBusy(dir) >= 3, 'the daemon holds the next two');
        else {
          await until(() => queued(queue) === 2, 'both hooks queued their requests');
          expect(await serveQueuedRequests(repo)).toBe(2);
        }
        return waiting;
      });
      expect((await Promise.all(results)).map((r) => r.code)).toEqual(results.map(() => 0));
      const steps = await listSteps(repo, { stats: false });
      const rounds = steps.filter((s) => s.kind === 'before').map((s) => [s.toolUseIds, s.extra.Round]);
      expect({ via, rounds: rounds.sort() }).toEqual({ via, rounds: [[['toolu_r1'], '1'], [['toolu_r2'], '2']] });
      expect(fs.existsSync(queue) ? fs.readdirSync(queue) : []).toEqual([]);
      stopTestDaemons();
    }
  });
});
