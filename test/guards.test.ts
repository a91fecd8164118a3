/**
 * The CI guards of `npm run lint:layers` catch what they are for: the
 * dependency-cruiser rules of .dependency-cruiser.cjs on small source trees
 * (one violation each, and a clean tree that passes), and
 * scripts/check-output.mjs on command files that print, read argv or exit
 * by themselves.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without type declarations
import { findOutputReferences, findPluralShortcuts } from '../scripts/check-output.mjs';
import { tempDir, write } from './support/repo.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DEPCRUISE = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const TSCONFIG = JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src'] });

/** A source tree with a tsconfig.json and the given files, all a few trivial modules. */
function tree(files: Record<string, string>): string {
  const dir = tempDir('ckpt-guards-');
  write(dir, { 'tsconfig.json': TSCONFIG, 'package.json': '{"type":"module"}\n', ...files });
  return dir;
}

/** Runs dependency-cruiser with the project's rules over `dir`/src, as CI does; returns its exit code and the rules it reported as errors. */
function cruise(dir: string): { status: number | null; rules: string[]; out: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'err'], { cwd: dir, encoding: 'utf8' });
  const out = r.stdout + r.stderr;
  const rules = [...new Set([...out.matchAll(/^\s*error ([\w-]+):/gm)].map((m) => m[1]!))].sort();
  return { status: r.status, rules, out };
}

const OK = 'export const x = 1;\n';

describe('layering rules (dependency-cruiser)', () => {
  it('passes a tree whose imports all run downward', () => {
    const dir = tree({
      'src/core/errors.ts': OK,
      'src/git/exec.ts': "import { x } from '../core/errors.js';\nexport const y = x;\n",
      'src/snapshot/take.ts': "import { y } from '../git/exec.js';\nexport const z = y;\n",
      'src/agents/hooks.ts': "import { z } from '../snapshot/take.js';\nexport const a = z;\n",
      'src/race/run.ts': "import { a } from '../agents/hooks.js';\nexport const r = a;\n",
      'src/view/data.ts': "import { r } from '../race/run.js';\nexport const v = r;\n",
      'src/cli/main.ts': "import { v } from '../view/data.js';\nexport const c = v;\n",
      'src/index.ts': "export { v } from './view/data.js';\n",
      'src/view/wire.ts': "import type { T } from '../race/types.js';\nexport type W = T;\n",
      'src/race/types.ts': 'export type T = number;\n',
      'src/view/client/main.ts': "import type { W } from '../wire.js';\nimport { el } from './dom.js';\nexport const w: W = el;\n",
      'src/view/client/dom.ts': 'export const el = 1;\n',
    });
    const r = cruise(dir);
    expect(r.rules).toEqual([]);
    expect(r.status, r.out).toBe(0);
  });

  it.each([
    ['core-imports-nothing-of-ckpt', { 'src/core/types.ts': "import type { T } from '../snapshot/take.js';\nexport type U = T;\n", 'src/snapshot/take.ts': 'export type T = 1;\n' }],
    ['git-below-snapshot', { 'src/git/repo.ts': "import { x } from '../snapshot/store.js';\nexport const y = x;\n", 'src/snapshot/store.ts': OK }],
    ['snapshot-below-agents-watch-race-view', { 'src/snapshot/take.ts': "import { x } from '../agents/hooks.js';\nexport const y = x;\n", 'src/agents/hooks.ts': OK }],
    ['agents-below-race-and-view', { 'src/agents/hooks.ts': "import { x } from '../race/run.js';\nexport const y = x;\n", 'src/race/run.ts': OK }],
    ['watch-below-race-and-view', { 'src/watch/watcher.ts': "import { x } from '../race/run.js';\nexport const y = x;\n", 'src/race/run.ts': OK }],
    ['race-below-view', { 'src/race/compare.ts': "import { x } from '../view/data.js';\nexport const y = x;\n", 'src/view/data.ts': OK }],
    ['view-below-cli', { 'src/view/server.ts': "import { x } from '../cli/output.js';\nexport const y = x;\n", 'src/cli/output.ts': OK }],
    ['library-never-imports-cli', { 'src/index.ts': "export { x } from './cli/output.js';\n", 'src/cli/output.ts': OK }],
    ['browser-client-has-no-node', { 'src/view/client/main.ts': "import fs from 'node:fs';\nexport const y = fs;\n" }],
    ['browser-client-takes-only-types-from-outside', { 'src/view/client/main.ts': "import { x } from '../text.js';\nimport type { T } from '../wire.js';\nexport const y: T = x;\n", 'src/view/text.ts': OK, 'src/view/wire.ts': 'export type T = number;\n' }],
    ['no-cycles', { 'src/race/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n", 'src/race/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n" }],
  ])('fails on %s', (rule, files) => {
    const r = cruise(tree(files));
    expect(r.rules).toEqual([rule]);
    expect(r.status, r.out).not.toBe(0);
  });
});

describe('command files never print, read argv or exit by themselves (scripts/check-output.mjs)', () => {
  const refs = (src: string) => (findOutputReferences('x.ts', src) as { line: number; text: string; kind: string }[]).map((r) => `${r.line}:${r.text}:${r.kind}`);
  const script = path.join(ROOT, 'scripts', 'check-output.mjs');
  const check = (dir: string) => spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });

  it('finds every way of reaching the output streams, argv and exit', () => {
    const src = [
      "import { stdout } from 'node:process';",
      'process.stdout.write("a");',
      "process['stderr'].write('b');",
      'const { stderr: err } = process;',
      'const w = globalThis.process.stdout.columns;',
      'console.log("c");',
      'const c = console;',
      'const color = process.argv.includes("--color");',
      'process.exit(1); process.exitCode = 2;',
      "import * as proc from 'process';",
    ].join('\n');
    expect(refs(src)).toEqual([
      "1:import { stdout } from 'node:process':process.stdout",
      '2:process.stdout:process.stdout',
      '3:process["stderr"]:process.stderr',
      '4:{ stderr } = process:process.stderr',
      '5:process.stdout:process.stdout',
      '6:console.log:console',
      '7:console:console',
      '8:process.argv:process.argv',
      '9:process.exit:process.exit',
      '9:process.exitCode:process.exitCode',
      '10:import of process:node:process',
    ]);
  });

  it('does not count strings, comments, stdin, env or the Output', () => {
    const src = [
      '// process.stdout.write is not allowed here',
      "const agent = `console.log('fixed'); process.stdout.write('x')`;",
      "const s = 'process.stderr';",
      'process.stdin.on("data", () => undefined);',
      'const home = process.env.HOME; const cwd = process.cwd();',
      'ctx.out.stdout("patch"); ctx.console = 1; opts.argv = [];',
      'const columns = ctx.out.columns;',
    ].join('\n');
    expect(refs(src)).toEqual([]);
  });

  it('exits 1 for a command file that writes to stdout, 0 once it does not', () => {
    const dir = tempDir('ckpt-guards-');
    write(dir, { 'src/cli/commands/fine.ts': "export function run(ctx: { out: { line(s: string): void } }) { ctx.out.line('hi'); }\n", 'src/cli/commands/bad.ts': "export function run() { process.stdout.write('hi'); }\n" });
    const bad = check(dir);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('error: src/cli/commands/bad.ts:1: process.stdout');
    expect(bad.stdout).not.toContain('fine.ts');
    write(dir, { 'src/cli/commands/bad.ts': null });
    const good = check(dir);
    expect(good.stdout).toContain('1 command files checked: 0 forbidden references');
    expect(good.status).toBe(0);
  });

  it('lets a known exception keep only the kind of reference it is listed for', () => {
    const dir = tempDir('ckpt-guards-');
    // src/cli/commands/hook.ts may write to stderr (an exception, as KNOWN_EXCEPTIONS lists them), nothing else.
    const exceptions = path.join(dir, 'exceptions.json');
    fs.writeFileSync(exceptions, JSON.stringify({ [path.join('src', 'cli', 'commands', 'hook.ts')]: ['process.stderr'] }));
    const check = (d: string) => spawnSync(process.execPath, [script, d, '--exceptions', exceptions], { encoding: 'utf8' });
    write(dir, { 'src/cli/commands/hook.ts': "export function fail(line: string) { process.stderr.write(line); }\n" });
    expect(spawnSync(process.execPath, [script, dir], { encoding: 'utf8' }).status).toBe(1); // without the exception: an error
    const known = check(dir);
    expect(known.stdout).toContain('known: src/cli/commands/hook.ts:1: process.stderr');
    expect(known.status).toBe(0);
    write(dir, { 'src/cli/commands/hook.ts': "export function fail(line: string) { process.stderr.write(line); process.exit(1); }\n" });
    const more = check(dir);
    expect(more.stdout).toContain('error: src/cli/commands/hook.ts:1: process.exit');
    expect(more.status).toBe(1);
  });
});

describe('counts are spelled in words, never "file(s)" (scripts/check-output.mjs)', () => {
  const script = path.join(ROOT, 'scripts', 'check-output.mjs');
  const check = (dir: string) => spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
  const found = (src: string) => (findPluralShortcuts('x.ts', src) as { line: number; text: string }[]).map((r) => `${r.line}:${r.text}`);

  it('finds a "(s)" or "(es)" plural in string and template literals, not in comments or regular expressions', () => {
    const src = [
      "const a = 'file(s) changed';",
      'const b = `${n} request(s), ${m} process(es)`;',
      '// a comment about file(s)',
      'const re = /(s)/;',
      "const c = 'f(x) and (s) alone';",
      'const d = `${n} ${what}(s) left`;',
      "const e = what + '(es)';",
    ].join('\n');
    expect(found(src)).toEqual(['1:file(s)', '2:request(s)', '2:process(es)', '6:(s)', '7:(es)']);
  });

  it('exits 1 for a source file that prints one, 0 once it is spelled with counted()', () => {
    const dir = tempDir('ckpt-guards-');
    write(dir, { 'src/cli/commands/fine.ts': 'export {};\n', 'src/watch/log.ts': 'export const line = (n: number) => `${n} request(s)`;\n' });
    const bad = check(dir);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('error: src/watch/log.ts:1: "request(s)"');
    write(dir, { 'src/watch/log.ts': "import { counted } from '../core/plural.js';\nexport const line = (n: number) => counted(n, 'request');\n" });
    const good = check(dir);
    expect(good.stdout).toContain('0 "(s)" plurals in src/');
    expect(good.status).toBe(0);
  });
});
