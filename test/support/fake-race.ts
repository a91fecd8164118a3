/**
 * A finished race built directly with library calls (no agent, no runner):
 * a temp repository, a base snapshot of the user's worktree, three linked
 * worktrees (`claude`, `codex`, `gemini`) with edits and `after` snapshots,
 * and a RaceRecord saved where `race show` reads it.
 *
 * What the attempts change against the base (so tests know what to expect):
 *
 * | file            | claude            | codex             | gemini            |
 * |-----------------|-------------------|-------------------|-------------------|
 * | README.md       | line 3 → X (same) | line 3 → X (same) | line 3 → X (same) |
 * | src/math.ts     | fix A (same)      | fix A (same)      | fix B (differs)   |
 * | src/util.ts     | —                 | new helper (only) | —                 |
 * | src/extra.ts    | added (only)      | —                 | —                 |
 * | old.txt         | —                 | —                 | deleted (only)    |
 */
import fs from 'node:fs';
import path from 'node:path';
import { openRepo, type Repo } from '../../src/git/repo.js';
import { takeSnapshot } from '../../src/snapshot/take.js';
import { saveRace } from '../../src/race/store.js';
import type { Attempt, RaceRecord } from '../../src/race/types.js';
import { git, makeRepo, storeGit, tempDir, write } from './repo.js';

/** The files of the base. */
export const BASE_FILES: Record<string, string> = {
  'README.md': '# demo\n\nline three\nline four\n',
  'src/math.ts': [
    'export function add(a: number, b: number): number {',
    '  return a - b;',
    '}',
    '',
    'export function mul(a: number, b: number): number {',
    '  return a * b;',
    '}',
    '',
    'export function div(a: number, b: number): number {',
    '  return a / b;',
    '}',
    '',
  ].join('\n'),
  'src/util.ts': 'export const id = <T>(x: T): T => x;\n',
  'old.txt': 'to be removed\n',
  'src/keep.ts': 'export const keep = 1;\n',
};

const README_SAME = '# demo\n\nline three, improved\nline four\n';
const MATH_FIX_A = BASE_FILES['src/math.ts']!.replace('return a - b;', 'return a + b;');
const MATH_FIX_B = BASE_FILES['src/math.ts']!
  .replace('return a - b;', 'return b + a;')
  .replace('  return a / b;', "  if (b === 0) throw new Error('division by zero');\n  return a / b;");

/** Per attempt: the steps (tool, target, files written; null deletes). */
export const ATTEMPT_EDITS: Record<string, Array<{ tool: string; target: string; files: Record<string, string | null> }>> = {
  claude: [
    { tool: 'Edit', target: 'src/math.ts', files: { 'src/math.ts': MATH_FIX_A } },
    { tool: 'Write', target: 'src/extra.ts', files: { 'src/extra.ts': 'export const extra = true;\n' } },
    { tool: 'Edit', target: 'README.md', files: { 'README.md': README_SAME } },
  ],
  codex: [
    { tool: 'apply_patch', target: 'src/math.ts', files: { 'src/math.ts': MATH_FIX_A, 'README.md': README_SAME } },
    { tool: 'apply_patch', target: 'src/util.ts', files: { 'src/util.ts': 'export const id = <T>(x: T): T => x;\nexport const twice = (n: number): number => n * 2;\n' } },
  ],
  gemini: [
    { tool: 'replace', target: 'src/math.ts', files: { 'src/math.ts': MATH_FIX_B } },
    { tool: 'run_shell_command', target: 'rm old.txt', files: { 'old.txt': null, 'README.md': README_SAME } },
  ],
};

/** What {@link makeFakeRace} returns. */
export interface FakeRace {
  /** The user's worktree (where `pick` applies). */
  dir: string;
  repo: Repo;
  race: RaceRecord;
  /** Attempt name → its worktree. */
  worktrees: Record<string, string>;
}

/**
 * Builds a finished race of three attempts in a fresh repository.
 *
 * @param id the race id (default `r1`).
 */
export async function makeFakeRace(id = 'r1', names: string[] = ['claude', 'codex', 'gemini']): Promise<FakeRace> {
  return buildRace(id, BASE_FILES, Object.fromEntries(names.map((n) => [n, ATTEMPT_EDITS[n] ?? []])));
}

/**
 * A finished race with any base and any steps per attempt (names in order).
 * Each step is recorded as a `before` and an `after` snapshot.
 */
export async function buildRace(
  id: string,
  baseFiles: Record<string, string>,
  edits: Record<string, Array<{ tool: string; target: string; files: Record<string, string | null> }>>,
): Promise<FakeRace> {
  const names = Object.keys(edits);
  const ATTEMPT_EDITS = edits;
  const dir = makeRepo(baseFiles);
  const repo = await openRepo(dir);
  const base = (await takeSnapshot(repo, { kind: 'manual', message: `base of race ${id}` })).snapshot;
  const head = git(dir, 'rev-parse', 'HEAD').trim();
  const indexTree = git(dir, 'write-tree').trim();
  const parent = tempDir('ckpt-race-wt-');
  const createdAt = Date.now() - 120_000;
  const attempts: Attempt[] = [];
  const worktrees: Record<string, string> = {};
  let i = 0;
  for (const name of names) {
    i++;
    const wt = path.join(parent, name);
    const branch = `ckpt/race/${id}/${name}`;
    git(dir, 'worktree', 'add', '-q', '-b', branch, wt, 'HEAD');
    worktrees[name] = wt;
    const arepo = await openRepo(wt);
    await takeSnapshot(arepo, { kind: 'base', agent: name, message: `base of attempt ${name}` });
    let last = null;
    for (const step of ATTEMPT_EDITS[name] ?? []) {
      await takeSnapshot(arepo, { kind: 'before', agent: name, tool: step.tool, target: step.target, force: true });
      write(wt, step.files);
      last = (await takeSnapshot(arepo, { kind: 'after', agent: name, tool: step.tool, target: step.target })).snapshot;
    }
    const stat = storeGit(wt, 'diff', '--numstat', base.tree, last ? last.tree : base.tree);
    let files = 0;
    let ins = 0;
    let del = 0;
    for (const line of stat.split('\n').filter(Boolean)) {
      const [a, d] = line.split('\t');
      files++;
      ins += Number(a) || 0;
      del += Number(d) || 0;
    }
    const startedAt = createdAt + 1000 * i;
    const endedAt = startedAt + 30_000 + 7000 * i;
    const logDir = path.join(repo.commonDir, 'ckpt', 'races', id, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    fs.writeFileSync(path.join(logDir, `${name}.log`), `${name} did its work\n`);
    attempts.push({
      name,
      index: i,
      agent: name,
      model: name === 'claude' ? 'claude-sonnet' : name === 'codex' ? 'gpt-5-codex' : 'gemini-pro',
      command: [name, '-p', 'fix the math'],
      taskViaStdin: false,
      dir: wt,
      branch,
      ref: arepo.ref,
      port: 41000 + 10 * i,
      state: 'done',
      exitCode: 0,
      signal: null,
      startedAt,
      endedAt,
      durationMs: endedAt - startedAt,
      steps: 1 + 2 * (ATTEMPT_EDITS[name]?.length ?? 0),
      files,
      insertions: ins,
      deletions: del,
      final: last ? last.id : null,
      tokens: { input: 12000 * i, output: 900 * i, ...(name === 'claude' ? { cached: 4000 } : {}) },
      costUsd: 0.05 * i,
      resultText: `${name}: done`,
      lastLine: 'done',
      log: path.join(logDir, `${name}.log`),
      outputBytes: 20,
      check: { command: 'npm test', exitCode: name === 'gemini' ? 1 : 0, passed: name !== 'gemini', durationMs: 1500, tail: name === 'gemini' ? '1 failed' : 'all passed', timedOut: false },
      error: null,
      score: name === 'gemini' ? 0.4 : 0.9 - 0.1 * i,
    });
  }
  const race: RaceRecord = {
    version: 1,
    id,
    task: 'Fix add() in src/math.ts <b>and</b> tidy the README',
    worktree: repo.worktree,
    base: { snapshot: base.id, tree: base.tree, head, indexTree, spec: null },
    check: 'npm test',
    createdAt,
    endedAt: Math.max(...attempts.map((a) => a.endedAt ?? 0)),
    state: 'finished',
    pid: process.pid,
    attempts,
    best: attempts[0]?.name ?? null,
    picked: null,
    cleaned: false,
    warnings: [],
  };
  saveRace(repo, race);
  return { dir: repo.worktree, repo, race, worktrees };
}
