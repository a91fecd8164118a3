/**
 * Peers' worktree configs read by `race` (src/race/peers.ts): `.worktreeinclude`,
 * `conductor.json`, `.superset/config.json`, `.cursor/worktrees.json` mapped onto
 * setup, teardown, env and copies; `--dry-run` says where each came from; ckpt's own
 * config wins; a malformed file is PEER_CONFIG_INVALID naming it, nothing created.
 * Real races of the fake agents, real shells.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planRace } from '../src/race/plan.js';
import { agentConfig, raceRepo } from './support/race.js';
import { CLI, picture, tempDir, write } from './support/repo.js';

const RACE = path.join(path.dirname(CLI), 'race.js');

function cli(cwd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RACE, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 180_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const plan = (dir: string, extra: Record<string, unknown> = {}) => planRace({ cwd: dir, task: 't', models: 'editor', ckptBin: CLI, ...extra });

describe('race reads peers\' worktree configs', () => {
  it('conductor.json: scripts.setup runs in each attempt with CONDUCTOR_* set, scripts.archive is the teardown race clean runs, scripts.run is named unused; .worktreeinclude files are copied', () => {
    const { dir } = raceRepo();
    const marks = tempDir('ckpt-peers-marks-');
    const archive = path.join(marks, 'archived.txt');
    write(dir, {
      'conductor.json': JSON.stringify({
        scripts: {
          setup: 'printf "%s|%s|%s|%s\\n" "$CONDUCTOR_WORKSPACE_NAME" "$CONDUCTOR_ROOT_PATH" "$CONDUCTOR_WORKSPACE_PATH" "$CONDUCTOR_PORT" > conductor-setup.txt',
          run: 'npm run dev',
          archive: `echo "$CONDUCTOR_WORKSPACE_NAME" >> '${archive}'`,
        },
      }),
      '.worktreeinclude': '# carried into each worktree\nsecrets.local\n',
      '.gitignore': '.env\nnode_modules/\n*.log\n*.local\n',
      'secrets.local': 'TOKEN=1\n',
      'other.local': 'not listed\n',
    });
    const before = picture(dir);
    const dry = cli(dir, ['t', '--models', 'editor:2', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^setup: printf .*conductor-setup\.txt {2}\(from conductor\.json scripts\.setup\)$/m);
    expect(dry.stdout).toMatch(/^teardown \(race clean, --clean\): echo .* {2}\(from conductor\.json scripts\.archive\)$/m);
    expect(dry.stdout).toContain("variables: CONDUCTOR_ROOT_PATH (conductor.json), CONDUCTOR_WORKSPACE_PATH (conductor.json), CONDUCTOR_WORKSPACE_NAME (conductor.json), CONDUCTOR_PORT (conductor.json)");
    expect(dry.stdout).toContain("copied (ignored files): .env* (ckpt (always)), secrets.local (.worktreeinclude)");
    expect(dry.stdout).toContain("peers' files read: .worktreeinclude, conductor.json");
    expect(dry.stdout).toContain('  conductor.json scripts.run: not used');
    const j = JSON.parse(cli(dir, ['t', '--models', 'editor:2', '--dry-run', '--json']).stdout);
    expect(j.sources).toMatchObject({ setup: 'conductor.json scripts.setup', teardown: 'conductor.json scripts.archive', peerFiles: ['.worktreeinclude', 'conductor.json'] });
    expect(j.attempts[1].env).toMatchObject({ CONDUCTOR_WORKSPACE_NAME: 'editor-2', CONDUCTOR_ROOT_PATH: dir, CONDUCTOR_WORKSPACE_PATH: j.attempts[1].dir, CONDUCTOR_PORT: String(j.attempts[1].port) });

    const r = cli(dir, ['t', '--models', 'editor:2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const race = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    for (const a of race.attempts) {
      expect(a.state, a.error).toBe('done');
      expect(fs.readFileSync(path.join(a.dir, 'conductor-setup.txt'), 'utf8')).toBe(`${a.name}|${dir}|${a.dir}|${a.port}\n`);
      expect(fs.readFileSync(path.join(a.dir, 'secrets.local'), 'utf8')).toBe('TOKEN=1\n');
      expect(fs.existsSync(path.join(a.dir, 'other.local'))).toBe(false);
    }
    expect(fs.existsSync(archive)).toBe(false);
    const clean = cli(dir, ['clean', '--race', race.id]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(fs.readFileSync(archive, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['editor', 'editor-2']);
    expect(picture(dir)).toEqual(before);
  }, 180_000);

  it('.superset/config.json: setup and teardown commands run in turn, stopping at the first that fails; SUPERSET_* set', async () => {
    const { dir } = raceRepo();
    write(dir, { '.superset/config.json': JSON.stringify({ setup: ['echo one > s1.txt', 'echo "$SUPERSET_WORKSPACE_NAME $SUPERSET_ROOT_PATH" > s2.txt # a comment'], teardown: ['true'], run: ['./dev.sh'] }) });
    const p = await plan(dir);
    expect(p.setup).toBe('{\necho one > s1.txt\n} || exit $?\n{\necho "$SUPERSET_WORKSPACE_NAME $SUPERSET_ROOT_PATH" > s2.txt # a comment\n} || exit $?');
    expect(p.sources).toMatchObject({ setup: '.superset/config.json setup', teardown: '.superset/config.json teardown' });
    expect(p.teardown).toBe('true');
    expect(p.attempts[0]!.env).toMatchObject({ SUPERSET_WORKSPACE_NAME: 'editor', SUPERSET_ROOT_PATH: dir, SUPERSET_WORKSPACE_PATH: p.attempts[0]!.dir });
    // Each command runs in the attempt; the comment ending one does not swallow the next.
    const shDir = tempDir('ckpt-peers-sh-');
    const sh = spawnSync('sh', ['-c', p.setup!], { cwd: shDir, encoding: 'utf8', env: { ...process.env, SUPERSET_WORKSPACE_NAME: 'w', SUPERSET_ROOT_PATH: '/r' } });
    expect(sh.status).toBe(0);
    expect(fs.readFileSync(path.join(shDir, 's1.txt'), 'utf8')).toBe('one\n');
    expect(fs.readFileSync(path.join(shDir, 's2.txt'), 'utf8')).toBe('w /r\n');
    // The first failing command stops the rest.
    write(dir, { '.superset/config.json': JSON.stringify({ setup: ['exit 3', 'echo ran > after.txt'] }) });
    const stop = spawnSync('sh', ['-c', (await plan(dir)).setup!], { cwd: tempDir('ckpt-peers-sh-'), encoding: 'utf8' });
    expect(stop.status).toBe(3);
    const r = cli(dir, ['t', '--models', 'editor', '--json']);
    const race = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(race.attempts[0].state).toBe('failed');
    expect(race.attempts[0].error).toMatch(/^setup: setup command failed \(exit 3\)/);
    expect(fs.existsSync(path.join(race.attempts[0].dir, 'after.txt'))).toBe(false);
  }, 120_000);

  it('.cursor/worktrees.json: setup-worktree-unix over setup-worktree; a script path relative to the file; ROOT_WORKTREE_PATH set', async () => {
    const { dir } = raceRepo();
    write(dir, { '.cursor/worktrees.json': JSON.stringify({ 'setup-worktree-unix': ['echo unix > c.txt'], 'setup-worktree': ['echo generic > c.txt'], 'setup-worktree-windows': ['copy x y'] }) });
    const p = await plan(dir);
    expect(p.setup).toBe('echo unix > c.txt');
    expect(p.sources.setup).toBe('.cursor/worktrees.json setup-worktree-unix');
    expect(p.attempts[0]!.env.ROOT_WORKTREE_PATH).toBe(dir);
    write(dir, { '.cursor/worktrees.json': JSON.stringify({ 'setup-worktree': 'setup.sh' }), '.cursor/setup.sh': 'echo "from $ROOT_WORKTREE_PATH" > c.txt\n' });
    const q = await plan(dir);
    expect(q.setup).toBe("sh './.cursor/setup.sh'");
    // A byte-order mark before the JSON is read past.
    fs.writeFileSync(path.join(dir, '.cursor/worktrees.json'), '\uFEFF' + JSON.stringify({ 'setup-worktree': 'setup.sh' }));
    expect((await plan(dir)).setup).toBe("sh './.cursor/setup.sh'");
    expect(q.sources.setup).toBe('.cursor/worktrees.json setup-worktree');
    const r = cli(dir, ['t', '--models', 'editor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const race = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(fs.readFileSync(path.join(race.attempts[0].dir, 'c.txt'), 'utf8')).toBe(`from ${dir}\n`);
  }, 120_000);

  it('ckpt\'s own config wins; among peers the first gives it and the others are named unused; race.peerConfigs: false reads none', async () => {
    const { dir, worktrees } = raceRepo();
    write(dir, {
      'conductor.json': JSON.stringify({ scripts: { setup: 'echo conductor', archive: 'echo archive' } }),
      '.superset/config.json': JSON.stringify({ setup: ['echo superset'] }),
      '.cursor/worktrees.json': JSON.stringify({ 'setup-worktree': ['echo cursor'] }),
    });
    const peersOnly = await plan(dir);
    expect(peersOnly.setup).toBe('echo conductor');
    expect(peersOnly.sources.unused).toEqual(['.superset/config.json setup: not used, conductor.json scripts.setup gives the setup', '.cursor/worktrees.json setup-worktree: not used, conductor.json scripts.setup gives the setup']);
    write(dir, { '.ckpt/config.json': JSON.stringify({ ...agentConfig(), race: { worktreeDir: worktrees, setup: 'echo own', env: { CONDUCTOR_PORT: 'mine' } } }) });
    const own = await plan(dir);
    expect(own.setup).toBe('echo own');
    expect(own.teardown).toBe('echo archive');
    expect(own.sources).toMatchObject({ setup: '.ckpt/config.json race.setup', teardown: 'conductor.json scripts.archive' });
    expect(own.sources.unused).toContain("conductor.json scripts.setup: not used, ckpt's own .ckpt/config.json race.setup wins");
    expect(own.attempts[0]!.env.CONDUCTOR_PORT).toBe('mine');
    expect(own.sources.env.CONDUCTOR_PORT).toBe('.ckpt/config.json race.env');
    const flag = await plan(dir, { setup: 'echo flag', teardown: 'echo td' });
    expect(flag.sources).toMatchObject({ setup: '--setup', teardown: '--teardown' });
    write(dir, { '.ckpt/config.json': JSON.stringify({ ...agentConfig(), race: { worktreeDir: worktrees, peerConfigs: false } }), 'conductor.json': '{ not json' });
    const none = await plan(dir);
    expect(none).toMatchObject({ setup: null, teardown: null, sources: { peerFiles: [] } });
    expect(none.attempts[0]!.env.CONDUCTOR_ROOT_PATH).toBeUndefined();
  });

  it('a malformed peer file is PEER_CONFIG_INVALID naming it (exit 2), nothing created', async () => {
    const { dir, worktrees } = raceRepo();
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'conductor.json': '{ "scripts": ' }, /^conductor\.json is not valid JSON/],
      [{ 'conductor.json': JSON.stringify({ scripts: { setup: ['npm ci'] } }) }, /^conductor\.json is not in the shape its tool reads:\n {2}scripts\.setup: /],
      [{ '.superset/config.json': JSON.stringify({ setup: 'bun install' }) }, /^\.superset\/config\.json is not in the shape its tool reads:\n {2}setup: /],
      [{ '.cursor/worktrees.json': JSON.stringify({ 'setup-worktree': 7 }) }, /^\.cursor\/worktrees\.json is not in the shape/],
      [{ '.cursor/worktrees.json': JSON.stringify({ 'setup-worktree': '../../../etc/x.sh' }) }, /the script "\.\.\/\.\.\/\.\.\/etc\/x\.sh" is outside the checkout/],
      [{ '.cursor/worktrees.json': JSON.stringify({ 'setup-worktree-unix': 'missing.sh' }) }, /the script \.cursor\/missing\.sh does not exist/],
    ];
    for (const [files, message] of cases) {
      for (const f of ['conductor.json', '.superset/config.json', '.cursor/worktrees.json']) fs.rmSync(path.join(dir, f), { force: true });
      write(dir, files);
      await expect(plan(dir)).rejects.toMatchObject({ code: 'PEER_CONFIG_INVALID', message: expect.stringMatching(message), data: { file: Object.keys(files)[0] } });
      const r = cli(dir, ['t', '--models', 'editor', '--json']);
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe('PEER_CONFIG_INVALID');
    }
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(fs.existsSync(path.join(dir, '.git', 'ckpt', 'races'))).toBe(false);
  });
});
