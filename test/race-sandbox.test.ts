/**
 * `race --sandbox`: each agent under bubblewrap, the file system read-only but for its
 * worktree, its git dirs, its own state and a private /tmp. Scripted agents, real processes.
 * Skipped (with the reason) only where bubblewrap is missing or not permitted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxWorks } from '../src/agents/sandbox.js';
import { listSteps, openRepo } from '../src/index.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { AGENTS_DIR, agentConfig, raceRepo } from './support/race.js';
import { CLI, git, picture, storeGit, tempDir, write } from './support/repo.js';

describe('race --sandbox', () => {
  it('a write into the user\'s checkout is refused (read-only), logged and warned; work inside the worktree, git commits and a private /tmp work', async (ctx) => {
    if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
    const { dir, worktrees } = raceRepo();
    const gitter = { command: ['sh', '-c', 'echo hi > g.txt && git add g.txt && git -c user.name=t -c user.email=t@t commit -qm g && echo private > "/tmp/ckpt-sbx-$CKPT_RACE_ID" && cat "/tmp/ckpt-sbx-$CKPT_RACE_ID"', '{task}'] };
    write(dir, { '.ckpt/config.json': JSON.stringify({ agents: { ...(agentConfig().agents as object), gitter }, race: { worktreeDir: worktrees } }) });
    const before = picture(dir);
    const head = git(dir, 'rev-parse', 'HEAD');
    const plan = await planRace({ cwd: dir, task: 'make f() return 2', models: 'escape,editor,gitter', sandbox: true, ckptBin: CLI });
    expect(plan.sandbox).toEqual({ network: true });
    const race = await runRace(plan, { ckptBin: CLI });
    const by = Object.fromEntries(race.attempts.map((a) => [a.name, a]));
    // The escape was refused: nothing reached the user's checkout.
    expect(fs.existsSync(path.join(dir, 'ESCAPED.txt'))).toBe(false);
    expect(picture(dir)).toEqual(before);
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(head);
    expect(by.escape!.state).toBe('failed');
    expect(fs.readFileSync(by.escape!.log, 'utf8')).toMatch(/EROFS|Read-only file system/);
    expect(race.warnings.some((w) => w.startsWith('escape: the sandbox refused') && w.includes(by.escape!.log))).toBe(true);
    // Work inside the worktree is untouched by the fence.
    expect(by.editor).toMatchObject({ state: 'done', files: 3 });
    expect(fs.readFileSync(path.join(by.editor!.dir, 'src/app.js'), 'utf8')).toContain('return 2;');
    // git in the attempt works (its index, the objects, its branch), /tmp is its own.
    expect(by.gitter!.state, by.gitter!.error ?? '').toBe('done');
    expect(git(by.gitter!.dir, 'log', '-1', '--format=%s')).toBe('g\n');
    expect(fs.existsSync(`/tmp/ckpt-sbx-${race.id}`)).toBe(false);
    expect(fs.readFileSync(by.gitter!.log, 'utf8')).toContain('private');
    expect(race.warnings.filter((w) => !w.startsWith('escape:'))).toEqual([]);
  }, 180_000);

  it('an agent whose program lies under /tmp still runs, and so does a check whose shell command names a script there: the private /tmp gets them back, read-only', async (ctx) => {
    if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
    const { dir, worktrees } = raceRepo();
    const scripts = fs.realpathSync(fs.mkdtempSync('/tmp/ckpt-sbx-agent-'));
    try {
      const agent = path.join(scripts, 'agent.mjs');
      fs.writeFileSync(agent, "import fs from 'node:fs';\nfs.writeFileSync('done.txt', 'ran\\n');\ntry { fs.writeFileSync(new URL('./written.txt', import.meta.url), 'x'); console.log('wrote beside itself'); } catch (e) { console.log(e.code); }\n");
      // The check is a shell command (run as `sh -c …`): its script is named inside one string.
      fs.writeFileSync(path.join(scripts, 'check.mjs'), "import fs from 'node:fs';\nif (fs.readFileSync('done.txt', 'utf8') !== 'ran\\n') process.exit(1);\nconsole.log('checked');\n");
      write(dir, { '.ckpt/config.json': JSON.stringify({ agents: { tmp: { command: [process.execPath, agent, '{task}'] } }, race: { worktreeDir: worktrees } }) });
      const plan = await planRace({ cwd: dir, task: 't', models: 'tmp', sandbox: true, check: `"${process.execPath}" '${path.join(scripts, 'check.mjs')}' && true`, ckptBin: CLI });
      const race = await runRace(plan, { ckptBin: CLI });
      const a = race.attempts[0]!;
      expect(a.state, fs.readFileSync(a.log, 'utf8')).toBe('done');
      expect(fs.readFileSync(path.join(a.dir, 'done.txt'), 'utf8')).toBe('ran\n');
      expect(a.check?.passed, fs.readFileSync(a.log, 'utf8')).toBe(true);
      expect(fs.readFileSync(a.log, 'utf8')).toMatch(/EROFS/); // its own directory is visible, not writable
      expect(fs.existsSync(path.join(scripts, 'written.txt'))).toBe(false);
    } finally {
      fs.rmSync(scripts, { recursive: true, force: true });
    }
  }, 180_000);

  it('setup, check, teardown and the reviewer are fenced too: their writes into the user\'s checkout are refused, logged and warned; the check has no network under --no-network', async (ctx) => {
    if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
    const { dir, worktrees } = raceRepo();
    // Each command tries a write into the user's checkout ($USER_DIR), then does its real job.
    const intruder = { command: ['sh', '-c', 'echo review > "$USER_DIR/REVIEW.txt"; exec "$0" "$1" "$2"', process.execPath, path.join(AGENTS_DIR, 'reviewer.mjs'), '{task}'], env: { USER_DIR: dir } };
    write(dir, {
      '.ckpt/config.json': JSON.stringify({
        agents: { ...(agentConfig().agents as object), intruder },
        race: {
          worktreeDir: worktrees,
          env: { USER_DIR: dir },
          setup: 'echo setup > "$USER_DIR/SETUP.txt"; echo setup went on',
          check: 'echo check > "$USER_DIR/CHECK.txt"; echo "interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d \' \' | tr \'\\n\' \' \')"; node check.mjs',
          teardown: 'echo teardown > "$USER_DIR/TEARDOWN.txt"; echo teardown went on',
        },
      }),
    });
    const before = picture(dir);
    const head = git(dir, 'rev-parse', 'HEAD');
    const plan = await planRace({ cwd: dir, task: 'make f() return 2', models: 'editor', sandbox: true, network: false, reviewBy: 'intruder', ckptBin: CLI });
    const race = await runRace(plan, { ckptBin: CLI, clean: true });
    const a = race.attempts[0]!;
    expect(race.sandbox).toEqual({ network: false });
    // Every command ran, and went on after its refused write.
    expect(a.state, a.error ?? '').toBe('done');
    expect(a.check?.passed, a.check?.tail).toBe(true);
    expect(race.reviews?.[0]).toMatchObject({ verdict: 'approve', state: 'done' });
    expect(race.cleaned).toBe(true);
    // Nothing reached the user's checkout: bytes, index and HEAD as before.
    for (const f of ['SETUP.txt', 'CHECK.txt', 'TEARDOWN.txt', 'REVIEW.txt']) expect(fs.existsSync(path.join(dir, f)), f).toBe(false);
    expect(picture(dir)).toEqual(before);
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(head);
    // Each refusal is in its log and in the race's warnings, naming that log.
    const logs = path.join(path.dirname(path.dirname(a.log)));
    const checkLog = path.join(logs, 'checks', 'editor.log');
    const teardownLog = path.join(logs, 'logs', 'editor.teardown.log');
    const reviewLog = race.reviews![0]!.log;
    // (stderr and stdout come through two pipes: their lines' order in the log is not theirs)
    expect(fs.readFileSync(a.log, 'utf8')).toMatch(/SETUP\.txt.*(Read-only file system|EROFS)/);
    expect(fs.readFileSync(a.log, 'utf8')).toContain('setup went on');
    expect(fs.readFileSync(checkLog, 'utf8')).toMatch(/CHECK\.txt.*(Read-only file system|EROFS)/);
    expect(fs.readFileSync(teardownLog, 'utf8')).toMatch(/TEARDOWN\.txt.*(Read-only file system|EROFS)/);
    expect(fs.readFileSync(teardownLog, 'utf8')).toContain('teardown went on');
    expect(fs.readFileSync(reviewLog, 'utf8')).toMatch(/REVIEW\.txt.*(Read-only file system|EROFS)/);
    const refusals = race.warnings.filter((w) => w.includes('the sandbox refused'));
    expect(refusals).toEqual([
      `editor's setup: the sandbox refused 1 write outside its worktree (read-only file system; see its log ${a.log})`,
      `editor's check: the sandbox refused 1 write outside its worktree (read-only file system; see its log ${checkLog})`,
      `review-editor-1: the sandbox refused 1 write outside its worktree (read-only file system; see its log ${reviewLog})`,
      `editor's teardown: the sandbox refused 1 write outside its worktree (read-only file system; see its log ${teardownLog})`,
    ]);
    // --no-network: the check saw only the loopback interface.
    expect(fs.readFileSync(checkLog, 'utf8')).toContain('interfaces: lo \n');
  }, 240_000);

  it('a fenced Claude Code attempt\'s hooks record every tool call\'s before/after pair through the race\'s relay, and the agent still cannot write the store', async (ctx) => {
    if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
    const { dir, worktrees } = raceRepo();
    // The scripted client under the claude preset's name: ckpt passes it its hook settings.
    const claude = { command: [path.join(AGENTS_DIR, 'hooked.mjs'), '{task}'], output: 'none' };
    write(dir, { '.ckpt/config.json': JSON.stringify({ agents: { ...(agentConfig().agents as object), claude }, race: { worktreeDir: worktrees } }) });
    const common = path.join(dir, '.git');
    const plan = await planRace({ cwd: dir, task: 'write a.txt and b.txt', models: 'claude', sandbox: true, ckptBin: CLI });
    const race = await runRace(plan, { ckptBin: CLI });
    const a = race.attempts[0]!;
    const log = fs.readFileSync(a.log, 'utf8');
    expect(a.state, log).toBe('done');
    // The agent itself is refused by the store; its hooks were not (each exited 0, silently).
    expect(log).toContain('store: EROFS');
    expect(fs.existsSync(path.join(common, 'ckpt', 'INTRUDER'))).toBe(false);
    expect(log.match(/^hook (PreToolUse|PostToolUse) \S+: exit 0$/gm)?.length, log).toBe(6);
    const steps = (await listSteps(await openRepo(a.dir))).reverse();
    const hooked = steps.filter((s) => s.kind === 'before' || s.kind === 'after');
    const ids = [1, 2, 3].map((k) => `toolu_claude_${k}`);
    expect(hooked.map((s) => [s.kind, s.tool, s.toolUseIds.join(',')])).toEqual(ids.flatMap((id, k) => [['before', ['Write', 'Bash', 'Edit'][k], id], ['after', ['Write', 'Bash', 'Edit'][k], id]]));
    expect(hooked.map((s) => s.target)).toEqual(['a.txt', 'a.txt', 'echo b > b.txt', 'echo b > b.txt', 'a.txt', 'a.txt']);
    for (const s of hooked) expect(s.extra).toMatchObject({ Race: race.id, Attempt: 'claude', Round: '1' });
    // Each pair holds the worktree as it was around its call.
    const files = (s: (typeof hooked)[number]): string[] => storeGit(dir, 'ls-tree', '-r', '--name-only', s.tree).split('\n');
    expect(files(hooked[0]!)).not.toContain('a.txt');
    expect(files(hooked[1]!)).toContain('a.txt');
    expect(files(hooked[2]!)).not.toContain('b.txt');
    expect(files(hooked[3]!)).toContain('b.txt');
    // The one refusal is the agent's own write into the store.
    expect(race.warnings).toEqual([`claude: the sandbox refused 1 write outside its worktree (read-only file system; see its log ${a.log})`]);
    // The relay's socket directory is gone with the attempt.
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('ckpt-hook-'))).toEqual([]);
  }, 180_000);

  it('with ckpt itself installed under /tmp (a package in a node_modules there, its dependencies hoisted beside it), a fenced attempt\'s hooks still load it: its install is bound back read-only', async (ctx) => {
    if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
    const { dir, worktrees } = raceRepo();
    const claude = { command: [path.join(AGENTS_DIR, 'hooked.mjs'), '{task}'], output: 'none' };
    write(dir, { '.ckpt/config.json': JSON.stringify({ agents: { claude }, race: { worktreeDir: worktrees } }) });
    // An install of the built package as a dependency under /tmp: its own files copied, its dependencies real files beside it (no symlink out of /tmp).
    const root = path.dirname(path.dirname(CLI));
    const prefix = fs.realpathSync(fs.mkdtempSync('/tmp/ckpt-inst-'));
    try {
      const modules = path.join(prefix, 'node_modules');
      try {
        execFileSync('cp', ['-al', path.join(root, 'node_modules'), modules]);
      } catch {
        fs.rmSync(modules, { recursive: true, force: true });
        execFileSync('cp', ['-a', path.join(root, 'node_modules'), modules]);
      }
      const pkg = path.join(modules, 'ckpt');
      for (const f of ['bin', 'dist', 'package.json']) fs.cpSync(path.join(root, f), path.join(pkg, f), { recursive: true });
      const bin = path.join(pkg, 'bin', 'ckpt.js');
      const r = spawnSync(process.execPath, [bin, 'race', 'write a.txt and b.txt', '--models', 'claude', '--sandbox'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 170_000 });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      const shown = JSON.parse(spawnSync(process.execPath, [bin, 'race', 'show', '--json'], { cwd: dir, encoding: 'utf8' }).stdout);
      const a = shown.attempts[0];
      const log = fs.readFileSync(a.log, 'utf8');
      expect(log).not.toContain('Cannot find module');
      expect(log.match(/^hook (PreToolUse|PostToolUse) \S+: exit 0$/gm)?.length, log).toBe(6);
      const hooked = (await listSteps(await openRepo(a.dir))).filter((s) => s.kind === 'before' || s.kind === 'after');
      expect(hooked.length).toBe(6);
      // Bound read-only: the agent's own write into ckpt's store was still refused.
      expect(log).toContain('store: EROFS');
    } finally {
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  }, 180_000);

  it('without a working bubblewrap, --sandbox is an error naming the package, and nothing is created or run', () => {
    const { dir, worktrees } = raceRepo();
    // A PATH with git and sh but no bwrap.
    const bin = tempDir('ckpt-nobwrap-');
    for (const p of ['git', 'sh']) fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).trim(), path.join(bin, p));
    const before = picture(dir);
    const r = spawnSync(process.execPath, [path.join(path.dirname(CLI), 'race.js'), 'make f() return 2', '--models', 'editor', '--sandbox'], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: bin, NO_COLOR: '1' }, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toContain('bubblewrap cannot run a sandbox here');
    expect(r.stderr).toContain('apt-get install bubblewrap');
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'src/app.js')) && fs.readFileSync(path.join(dir, 'src/app.js'), 'utf8')).toContain('return 1;');
    expect(picture(dir)).toEqual(before);
  }, 120_000);
});
