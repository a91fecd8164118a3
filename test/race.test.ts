/**
 * Races of the fake agents (test/fixtures/agents) through the library: real
 * worktrees, real processes, real timeouts and kills.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepo, listSteps, rollback } from '../src/index.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { pickAttempt } from '../src/race/pick.js';
import { resolveRace } from '../src/race/store.js';
import { parseModels } from '../src/race/config.js';
import { expandArgv, parseOutput, PRESETS } from '../src/agents/presets.js';
import { git, indexBytes, picture, write } from './support/repo.js';
import { raceRepo } from './support/race.js';
import { processesIn } from './support/procs.js';
import { until } from './support/wait.js';
import { CLI } from './support/repo.js';

const bin = CLI;

describe('race', () => {
  it('parses --models and expands argv templates without a shell', () => {
    expect(parseModels('claude,codex')).toEqual([
      { name: 'claude', agent: 'claude', model: null },
      { name: 'codex', agent: 'codex', model: null },
    ]);
    expect(parseModels('claude@opus,claude@sonnet').map((s) => `${s.name}=${s.model}`)).toEqual(['claude=opus', 'claude-2=sonnet']);
    expect(parseModels('claude:3').map((s) => s.name)).toEqual(['claude', 'claude-2', 'claude-3']);
    expect(() => parseModels('claude;rm -rf /')).toThrow(/bad --models/);
    const task = '$(rm -rf ~); "quoted" \'single\'\nnew line';
    const argv = expandArgv(PRESETS.claude!.command, { task, model: null, dir: '/x' });
    expect(argv).not.toContain('--model');
    expect(argv.at(-1)).toBe(task);
    expect(argv.at(-2)).toBe('--');
    expect(expandArgv(PRESETS.codex!.command, { task: '--help', model: 'gpt-5', dir: '/w' })).toEqual(['codex', 'exec', '--json', '--sandbox', 'workspace-write', '-m', 'gpt-5', '-C', '/w', '--skip-git-repo-check', '--', '--help']);
    expect(expandArgv(PRESETS.gemini!.command, { task: '--x', model: null, dir: '/w' })[1]).toBe('--prompt=--x');
    const claudeOut = parseOutput('claude-json', 'noise\n{"type":"result","total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":5},"result":"ok","is_error":false}\n');
    expect(claudeOut).toMatchObject({ costUsd: 0.5, tokens: { input: 10, output: 5 }, resultText: 'ok', isError: false });
    const codexOut = parseOutput('codex-jsonl', '{"type":"turn.completed","usage":{"input_tokens":7,"cached_input_tokens":2,"output_tokens":3}}\n{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}\n');
    expect(codexOut.tokens).toEqual({ input: 8, output: 4, cached: 2 });
    // A Codex retry notice (`error`) in a run that then completes is not a failure; `turn.failed` is.
    expect(parseOutput('codex-jsonl', '{"type":"error","message":"Reconnecting... 1/5"}\n{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}\n').isError).toBe(false);
    expect(parseOutput('codex-jsonl', '{"type":"turn.failed","error":{"message":"unexpected status 401"}}\n')).toMatchObject({ isError: true, resultText: 'unexpected status 401' });
    // Gemini's closing `result` line: stats on success, status "error" with error.message on failure.
    const geminiOk = parseOutput('gemini-jsonl', '{"type":"message","role":"assistant","content":"done"}\n{"type":"result","status":"success","stats":{"input_tokens":9,"output_tokens":4}}\n');
    expect(geminiOk).toMatchObject({ isError: false, resultText: 'done', tokens: { input: 9, output: 4 } });
    const geminiErr = parseOutput('gemini-jsonl', '{"type":"result","status":"error","error":{"type":"FatalAuthenticationError","message":"API key not valid"},"stats":{"input_tokens":0,"output_tokens":0}}\n');
    expect(geminiErr).toMatchObject({ isError: true, resultText: 'API key not valid' });
  });

  it('three agents with a check: each in its own worktree, checked, ranked; pick and undo are byte-exact', async () => {
    const { dir } = raceRepo();
    // The editor makes each next edit only once the watcher has recorded the last one as a step:
    // a fixed pause is not a separate burst to a watcher starved by a busy machine.
    const config = JSON.parse(fs.readFileSync(path.join(dir, '.ckpt/config.json'), 'utf8'));
    config.agents.editor.env = { AGENT_AWAIT_STEPS: bin };
    write(dir, { '.ckpt/config.json': JSON.stringify(config, null, 2) });
    write(dir, { 'README.md': '# app\nuncommitted work of the user\n' }); // the base includes it
    write(dir, { 'staged.txt': 'staged\n' });
    git(dir, 'add', 'staged.txt');
    const index0 = indexBytes(dir);
    const plan = await planRace({ cwd: dir, task: 'make f() return 2', models: 'editor,fast,fail', check: `${process.execPath} check.mjs`, ckptBin: bin });
    const race = await runRace(plan, { ckptBin: bin });
    expect(race.state).toBe('finished');
    const by = Object.fromEntries(race.attempts.map((a) => [a.name, a]));
    expect(by.editor).toMatchObject({ state: 'done', exitCode: 0, files: 3, check: { passed: true } });
    expect(by.fast).toMatchObject({ state: 'done', files: 2, check: { passed: true }, costUsd: 0.0123, tokens: { input: 1200, output: 340, cached: 10 } });
    expect(by.fail).toMatchObject({ state: 'failed', exitCode: 1, check: { passed: false } });
    expect(by.fail!.error).toContain('API Error: 500');
    expect(race.best).toBe('fast');
    // each attempt: its own worktree and branch, the base's uncommitted state, ignored .env copied
    for (const a of race.attempts) {
      expect(fs.existsSync(a.dir)).toBe(true);
      expect(git(dir, 'branch', '--list', a.branch)).toContain(a.branch);
    }
    const editorDir = by.editor!.dir;
    expect(fs.readFileSync(path.join(editorDir, 'README.md'), 'utf8')).toBe('# app\nuncommitted work of the user\nFixed by editor.\n');
    expect(fs.readFileSync(path.join(editorDir, '.env'), 'utf8')).toBe('API_KEY=secret\n');
    // node_modules: the default deps strategy (auto: a clone, else a copy): the same bytes, its own inodes.
    expect(fs.readFileSync(path.join(editorDir, 'node_modules/dep/index.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect(fs.statSync(path.join(editorDir, 'node_modules/dep/index.js')).ino).not.toBe(fs.statSync(path.join(dir, 'node_modules/dep/index.js')).ino);
    expect(git(editorDir, 'diff', '--cached', '--name-only').trim()).toBe('staged.txt'); // the user's index mirrored
    const received = JSON.parse(fs.readFileSync(path.join(editorDir, 'agent-received.log'), 'utf8'));
    expect(received.argv).toEqual(['make f() return 2']);
    // PWD is the attempt's worktree (an agent that trusts PWD, like OpenCode, works there and not in the user's checkout).
    expect(received.env).toMatchObject({ CKPT_RACE_ID: race.id, CKPT_ATTEMPT: 'editor', CKPT_ATTEMPT_INDEX: '1', PORT: String(by.editor!.port), PWD: editorDir });
    expect(new Set(race.attempts.map((a) => a.port)).size).toBe(3);
    // checkpoints all the way: the watcher saw the editor's steps; ckpt log works inside the attempt
    const steps = await listSteps(await openRepo(editorDir));
    expect(steps.at(-1)!.kind).toBe('base');
    expect(steps.length).toBeGreaterThanOrEqual(4); // base, src/app.js, src/lib/helper.js, README.md: each its own step
    expect(by.editor!.steps).toBe(steps.length - 1);
    // the user's worktree was not touched by the race
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(race.warnings).toEqual([]);

    // pick the editor: its changes become uncommitted changes of the user
    const before = picture(dir);
    const res = await pickAttempt(resolveRace(await openRepo(dir), race.id), 'editor');
    expect(res.changes.map((c) => `${c.action} ${c.path}`).sort()).toEqual(['write README.md', 'write src/app.js', 'write src/lib/helper.js']);
    expect(fs.readFileSync(path.join(dir, 'src/app.js'), 'utf8')).toBe(fs.readFileSync(path.join(editorDir, 'src/app.js'), 'utf8'));
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('# app\nuncommitted work of the user\nFixed by editor.\n');
    expect(fs.readFileSync(path.join(dir, '.env'), 'utf8')).toBe('API_KEY=secret\n');
    expect(fs.readFileSync(path.join(dir, 'node_modules/dep/index.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect(indexBytes(dir).equals(index0)).toBe(true);
    // round trip: undo the pick
    await rollback(await openRepo(dir), { undo: true });
    expect(picture(dir)).toEqual(before);
    expect(resolveRace(await openRepo(dir), race.id).picked).toMatchObject({ attempt: 'editor', mode: 'apply' });
  }, 120_000);

  it('refuses a pick that would overwrite the user\'s newer changes or untracked files, changing nothing', async () => {
    const { dir } = raceRepo();
    const plan = await planRace({ cwd: dir, task: 't', models: 'fast', ckptBin: bin });
    const race = await runRace(plan, { ckptBin: bin });
    write(dir, { 'src/app.js': 'export function f() {\n  return 99; // the user\n}\n', 'FAST.md': 'the user wrote this\n' });
    const pic = picture(dir);
    await expect(pickAttempt(race, 'fast')).rejects.toMatchObject({ code: 'PICK_WOULD_CLOBBER' });
    expect(picture(dir)).toEqual(pic);
    // the same change the attempt made is not a conflict
    write(dir, { 'src/app.js': fs.readFileSync(path.join(race.attempts[0]!.dir, 'src/app.js'), 'utf8'), 'FAST.md': null });
    const ok = await pickAttempt(race, 'fast');
    expect(ok.changes.map((c) => c.path)).toEqual(['FAST.md']);
    // and as a branch: the worktree untouched
    const b = await pickAttempt(race, 'fast', { mode: 'branch', branch: 'try-fast' });
    expect(git(dir, 'show', 'try-fast:FAST.md')).toBe('fast was here\n');
    expect(b.branch).toBe('try-fast');
    await expect(pickAttempt(race, 'fast', { mode: 'branch', branch: 'try-fast' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(pickAttempt(race, 'fast', { mode: 'branch', branch: 'bad..name' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(pickAttempt(race, 'nobody')).rejects.toMatchObject({ code: 'ATTEMPT_NOT_FOUND' });
  }, 60_000);

  it('hostile task text reaches the agent as one exact argument, or on stdin', async () => {
    const { dir } = raceRepo();
    const task = '--help $(rm -rf ~) `id`; echo "double" \'single\'\nsecond line\\ and a tab\t!';
    const plan = await planRace({ cwd: dir, task, models: 'editor,stdin-editor', ckptBin: bin });
    const race = await runRace(plan, { ckptBin: bin });
    const got = (n: number) => JSON.parse(fs.readFileSync(path.join(race.attempts[n]!.dir, 'agent-received.log'), 'utf8'));
    expect(got(0).argv).toEqual([task]);
    expect(got(1).argv).toEqual([]);
    expect(got(1).stdin).toBe(task);
    expect(race.attempts.every((a) => a.state === 'done')).toBe(true);
  }, 60_000);

  it('kills hanging and SIGTERM-ignoring agents with their whole process group; caps a flood of output', async () => {
    const { dir } = raceRepo();
    const plan = await planRace({ cwd: dir, task: 't', models: 'hang,ignore-term', timeout: '8s', idleTimeout: '2s', ckptBin: bin });
    const race = await runRace(plan, { ckptBin: bin });
    // The flood in a race of its own, with a time limit only a real failure reaches: writing 24 MiB
    // through a pipe took more than the 8 s the others get on a loaded machine (CI: a timeout).
    const flooded = await runRace(await planRace({ cwd: dir, task: 't', models: 'flood', timeout: '120s', idleTimeout: '60s', ckptBin: bin }), { ckptBin: bin });
    const by = Object.fromEntries([...race.attempts, ...flooded.attempts].map((a) => [a.name, a]));
    expect(by.hang).toMatchObject({ state: 'timeout' });
    expect(by.hang!.error).toContain('no output');
    expect(fs.existsSync(path.join(by.hang!.dir, 'agent-pid.log'))).toBe(true);
    expect(processesIn(by.hang!.dir)).toEqual([]);
    expect(by['ignore-term']!.state).toBe('timeout');
    expect(JSON.parse(fs.readFileSync(path.join(by['ignore-term']!.dir, 'agent-pids.log'), 'utf8'))).toHaveLength(2);
    expect(processesIn(by['ignore-term']!.dir)).toEqual([]);
    expect(by.flood!.state).toBe('done');
    expect(by.flood!.outputBytes).toBe(24 * 1024 * 1024);
    const logSize = fs.statSync(by.flood!.log).size;
    expect(logSize).toBeLessThan(10 * 1024 * 1024 + 200);
    expect(fs.readFileSync(by.flood!.log, 'utf8').slice(-200)).toContain('output capped');
  }, 240_000);

  it('reports an agent that wrote into the main checkout', async () => {
    const { dir } = raceRepo();
    const race = await runRace(await planRace({ cwd: dir, task: 't', models: 'escape', ckptBin: bin }), { ckptBin: bin });
    expect(race.attempts[0]!.state).toBe('done');
    expect(race.warnings.join('\n')).toContain('ESCAPED.txt');
  }, 60_000);

  it('an agent that is not installed: a clear error naming how to install it, before anything is created', async () => {
    const { dir, worktrees } = raceRepo();
    const config = JSON.parse(fs.readFileSync(path.join(dir, '.ckpt/config.json'), 'utf8'));
    config.agents.ghost = { command: ['definitely-not-installed-agent-xyz', '{task}'], install: 'npm install -g ghost-agent' };
    fs.writeFileSync(path.join(dir, '.ckpt/config.json'), JSON.stringify(config));
    const refs0 = git(dir, 'for-each-ref');
    const err = await planRace({ cwd: dir, task: 't', models: 'editor,ghost', ckptBin: bin }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'AGENT_NOT_INSTALLED' });
    expect((err as { hint: string }).hint).toContain('npm install -g ghost-agent');
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(git(dir, 'for-each-ref')).toBe(refs0);
    expect(fs.existsSync(path.join(dir, '.git', 'ckpt', 'races'))).toBe(false);
    // bad config: every problem with its path
    fs.writeFileSync(path.join(dir, '.ckpt/config.json'), JSON.stringify({ agents: { x: { command: 'not-an-array', timeout: 'soon' } }, race: { ports: { base: 80 } } }));
    const bad = await planRace({ cwd: dir, task: 't', models: 'x', ckptBin: bin }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((bad as Error).message).toMatch(/agents\.x\.command/);
    expect((bad as Error).message).toMatch(/agents\.x\.timeout/);
    expect((bad as Error).message).toMatch(/race\.ports/);
  });

  it('Ctrl-C stops every attempt cleanly and records the race as interrupted', async () => {
    const { dir } = raceRepo();
    const abort = new AbortController();
    const plan = await planRace({ cwd: dir, task: 't', models: 'hang,hang', ckptBin: bin });
    const running = runRace(plan, { ckptBin: bin, signal: abort.signal });
    // Stop once both agents run (on a loaded machine that can take a while).
    const pidFiles = plan.attempts.map((a) => path.join(a.dir, 'agent-pid.log'));
    for (let t = 0; t < 300 && !pidFiles.every((f) => fs.existsSync(f)); t++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    const race = await running;
    expect(race.state).toBe('interrupted');
    expect(race.attempts.map((a) => a.state)).toEqual(['interrupted', 'interrupted']);
    for (const a of race.attempts) expect(processesIn(a.dir)).toEqual([]);
    expect(resolveRace(await openRepo(dir)).state).toBe('interrupted');
  }, 60_000);

  it('a race whose process died but is not yet reaped (a zombie) reads as interrupted; one whose process runs, as running', async () => {
    const { dir } = raceRepo();
    const plan = await planRace({ cwd: dir, task: 't', models: 'editor', ckptBin: bin });
    const done = await runRace(plan, { ckptBin: bin });
    const repo = await openRepo(dir);
    const file = path.join(repo.commonDir, 'ckpt', 'races', done.id, 'race.json');
    // `true` exits at once; its parent becomes `sleep`, which never waits for it: a zombie for 30 s.
    const parent = spawn('sh', ['-c', 'true & exec sleep 30'], { stdio: 'ignore' });
    try {
      let zombie = 0;
      await until(() => {
        const kids = fs.readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        zombie = kids.find((k) => fs.readFileSync(`/proc/${k}/stat`, 'utf8').includes(') Z ')) ?? 0;
        return zombie > 0 && fs.readFileSync(`/proc/${parent.pid}/cmdline`, 'utf8').startsWith('sleep');
      }, 'a zombie child of sleep');
      const running = (pid: number) => ({ ...done, state: 'running', pid, attempts: done.attempts.map((a) => ({ ...a, state: 'running' })) });
      fs.writeFileSync(file, JSON.stringify(running(zombie)));
      expect(resolveRace(repo).state).toBe('interrupted');
      expect(resolveRace(repo).attempts.map((a) => a.state)).toEqual(['interrupted']);
      fs.writeFileSync(file, JSON.stringify(running(process.pid)));
      expect(resolveRace(repo).state).toBe('running');
    } finally {
      parent.kill('SIGKILL');
    }
  }, 60_000);
});
