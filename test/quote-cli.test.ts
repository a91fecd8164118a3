/**
 * Names and texts chosen by an agent never reach the terminal raw: through
 * the built CLI, a file named `zz\r\e[2K\e[1A\e[2K\r  M README.md`, a task,
 * agent output and check output full of escape sequences. Asserted on the
 * bytes: no CR, no ESC (beyond ckpt's own colour codes with --color=always),
 * no C1 CSI, in stdout and stderr of every command that prints them; and the
 * rollback report still shows "D important.txt".
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quote } from '../src/core/quote.js';
import { CLI, makeRepo, tempDir, write } from './support/repo.js';
import { raceRepo } from './support/race.js';

const RACE = path.join(path.dirname(CLI), 'race.js');
const HOSTILE = 'zz\r\x1b[2K\x1b[1A\x1b[2K\r  M README.md';

function run(cwd: string, args: string[], bin = CLI): { code: number; out: Buffer; err: Buffer; text: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined }, timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, text: r.stdout.toString('utf8') + r.stderr.toString('utf8') };
}

/** The bytes a terminal would act on, left after removing ckpt's own SGR colour codes when `colour` is set. */
function unsafe(buf: Buffer, colour: boolean): string[] {
  let s = buf.toString('latin1');
  if (colour) s = s.replace(/\x1b\[[0-9;]*m/g, '');
  const found: string[] = [];
  for (const [i, ch] of [...s].entries()) {
    const c = ch.charCodeAt(0);
    if (c === 0x1b || c === 0x0d || c === 0x07 || c === 0x08 || (c === 0x9b && s.charCodeAt(i - 1) === 0xc2)) found.push(`${c.toString(16)}@${i}`);
  }
  return found;
}

function expectSafe(r: { out: Buffer; err: Buffer }, what: string, colour = false): void {
  expect(unsafe(r.out, colour), `${what}: stdout`).toEqual([]);
  expect(unsafe(r.err, colour), `${what}: stderr`).toEqual([]);
}

describe('quoting', () => {
  it('quote(): git core.quotePath style for names, control bytes escaped in texts', () => {
    expect(quote('src/a.txt')).toBe('src/a.txt');
    expect(quote('café.txt')).toBe('café.txt');
    expect(quote(HOSTILE)).toBe('"zz\\r\\033[2K\\033[1A\\033[2K\\r  M README.md"');
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote('tab\there\n')).toBe('"tab\\there\\n"');
    expect(quote('c\u009b2J')).toBe('"c\\302\\2332J"');
    expect(quote('a\u202eb')).toBe('"a\\342\\200\\256b"');
    expect(quote('line one\nline\ttwo\x1b[2J', 'text')).toBe('line one\nline\ttwo\\033[2J');
  });

  it('ckpt rollback, log, status, diff: a hostile file name cannot hide "D important.txt"', () => {
    const dir = makeRepo({ 'important.txt': 'keep me\n', 'README.md': '# r\n' });
    expect(run(dir, ['snap', '-m', 'start']).code).toBe(0);
    write(dir, { [HOSTILE]: 'x\n', 'important.txt': null });
    expect(run(dir, ['snap', '-m', 'agent\x1b[2K\rstep']).code).toBe(0);
    for (const colour of [false, true]) {
      const c = colour ? ['--color=always'] : [];
      const dry = run(dir, [...c, 'rollback', '1', '--dry-run']);
      expect(dry.code).toBe(0);
      expectSafe(dry, 'rollback --dry-run', colour);
      const plain = dry.out.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      expect(plain).toContain('  A important.txt');
      expect(plain).toContain('  D "zz\\r\\033[2K\\033[1A\\033[2K\\r  M README.md"');
      for (const args of [['log'], ['status'], ['diff', '1', '2', '--stat'], ['diff', '1', '2'], ['diff', '1', '--', HOSTILE]]) {
        const r = run(dir, [...c, ...args]);
        expect(r.code, args.join(' ')).toBe(0);
        expectSafe(r, args.join(' '), colour);
      }
    }
    const rb = run(dir, ['rollback', '1']);
    expect(rb.code).toBe(0);
    expectSafe(rb, 'rollback');
    expect(rb.out.toString()).toMatch(/ {2}A important\.txt\n {2}D "zz\\r/);
    expect(fs.readFileSync(path.join(dir, 'important.txt'), 'utf8')).toBe('keep me\n');
    const undo = run(dir, ['rollback', '--undo']);
    expect(undo.code).toBe(0);
    expectSafe(undo, 'rollback --undo');
    expect(fs.readFileSync(path.join(dir, HOSTILE), 'utf8')).toBe('x\n');
    // an error naming such a path
    const bad = run(dir, ['rollback', '1', '--', `nope\x1b[2J\r`]);
    expect(bad.code).toBe(2);
    expectSafe(bad, 'rollback error');
    // commander's own message echoes the option as typed
    const opt = run(dir, ['log', '--x\x1b[2J\r']);
    expect(opt.code).toBe(2);
    expect(opt.err.toString()).toContain("unknown option '--x\\033[2J\\r'");
    expectSafe(opt, 'unknown option');
  }, 180_000);

  it('race show, list, diff --stat, diff, pick: agent-chosen names, task, output and check output are quoted', () => {
    const agentDir = tempDir('ckpt-evil-');
    const script = path.join(agentDir, 'evil.mjs');
    fs.writeFileSync(
      script,
      [
        "import fs from 'node:fs';",
        `fs.writeFileSync(${JSON.stringify(HOSTILE)}, 'evil\\n');`,
        "fs.unlinkSync('README.md');",
        "console.log('working\\r\\x1b[2K\\x1b[1Adone \\u009b2J');",
        "console.error('oops\\x1b[31m\\r');",
      ].join('\n'),
    );
    const { dir, worktrees } = raceRepo();
    const cfgPath = path.join(dir, '.ckpt', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg.agents.evil = { command: [process.execPath, script, '{task}'] };
    fs.writeFileSync(cfgPath, JSON.stringify(cfg));
    const check = `${process.execPath} -e "console.log('check\\x1b[2J\\rout'); process.exit(1)"`;
    const r = run(dir, ['fix\x1b[2J\r it', '--models', 'evil,editor', '--check', check], RACE);
    expect(r.code, r.text).toBe(0);
    expectSafe(r, 'race run');
    for (const colour of [false, true]) {
      for (const args of [['show'], ['list'], ['diff', '--stat'], ['diff'], ['diff', '--side-by-side'], ['diff', 'evil', '--stat'], ['pick', 'evil', '--dry-run']]) {
        const x = run(dir, colour ? ['--color=always', ...args] : args, RACE);
        expect(x.code, `${args.join(' ')}: ${x.text}`).toBe(0);
        // a patch's content lines are the files' bytes, as git prints them; only its headers are names
        if (args[0] === 'diff' && args.length === 1) expect(unsafe(x.err, colour)).toEqual([]);
        else expectSafe(x, args.join(' '), colour);
      }
    }
    const shown = run(dir, ['show'], RACE).out.toString();
    expect(shown).toContain('task: fix\\033[2J\\r it');
    expect(run(dir, ['diff', 'evil', '--stat'], RACE).out.toString()).toContain(' A "zz\\r\\033[2K\\033[1A\\033[2K\\r  M README.md"');
    const pick = run(dir, ['pick', 'evil'], RACE);
    expect(pick.code, pick.text).toBe(0);
    expectSafe(pick, 'pick');
    expect(pick.out.toString()).toMatch(/ {2}D README\.md/);
    expect(fs.existsSync(path.join(dir, HOSTILE))).toBe(true);
    expect(fs.readdirSync(worktrees).length).toBeGreaterThan(0);
  }, 180_000);
});
