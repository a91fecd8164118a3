/**
 * The race part of `ckpt demo` (and `race demo` on its own): three scripted
 * agents race to fix a bug in the throwaway repository, `--check` runs its
 * test in each attempt, the summary table ranks them, and the best is picked
 * into the user's worktree, checked, and the pick undone.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../../core/errors.js';
import { openRepo } from '../../git/repo.js';
import { rollback } from '../../snapshot/rollback.js';
import { pickAttempt } from '../../race/pick.js';
import { planRace } from '../../race/plan.js';
import { runRace } from '../../race/run.js';
import type { Ctx } from '../context.js';
import { renderSummary } from '../race-table.js';

const AGENTS: Record<string, string> = {
  // Fixes the bug in two steps, with a pause: fast and right.
  fixer: `
const fs = require('node:fs');
setTimeout(() => {
  fs.writeFileSync('src/math.js', fs.readFileSync('src/math.js', 'utf8').replace('a - b', 'a + b'));
  console.log('fixed add()');
  setTimeout(() => {
    fs.appendFileSync('NOTES.md', '- add() adds again\\n');
    console.log('noted it');
  }, 400);
}, 300);
`,
  // Rewrites the whole module: right too, slower, a bigger diff.
  rewriter: `
const fs = require('node:fs');
setTimeout(() => {
  fs.writeFileSync('src/math.js', '/** Sum of two numbers. */\\nexport function add(a, b) {\\n  return a + b;\\n}\\n\\n/** Difference. */\\nexport function sub(a, b) {\\n  return a - b;\\n}\\n');
  console.log('rewrote src/math.js');
  setTimeout(() => {
    fs.appendFileSync('NOTES.md', '- add() adds again\\n');
    console.log('noted it');
  }, 900);
}, 600);
`,
  // Gets it wrong: the check fails.
  guesser: `
const fs = require('node:fs');
setTimeout(() => {
  fs.writeFileSync('src/math.js', fs.readFileSync('src/math.js', 'utf8').replace('a - b', 'a * b'));
  console.log('changed add()');
}, 500);
`,
};

/** Adds the buggy module, its check and the three scripted agents to the demo repository. */
function prepare(dir: string, scripts: string): void {
  mkdirSync(scripts, { recursive: true });
  for (const [name, code] of Object.entries(AGENTS)) writeFileSync(path.join(scripts, `${name}.cjs`), code);
  writeFileSync(path.join(dir, 'src', 'math.js'), 'export function add(a, b) {\n  return a - b;\n}\n');
  writeFileSync(path.join(dir, 'check.mjs'), "import { add } from './src/math.js';\nif (add(2, 3) !== 5) {\n  console.error(`add(2, 3) returned ${add(2, 3)}, expected 5`);\n  process.exit(1);\n}\nconsole.log('check passed');\n");
  const agents = Object.fromEntries(Object.keys(AGENTS).map((n) => [n, { command: [process.execPath, path.join(scripts, `${n}.cjs`), '{task}'] }]));
  mkdirSync(path.join(dir, '.ckpt'), { recursive: true });
  writeFileSync(path.join(dir, '.ckpt', 'config.json'), JSON.stringify({ agents }, null, 2) + '\n');
}

/** Runs the race demo in `dir` (a demo repository). */
export async function runRaceDemo(ctx: Ctx, dir: string, ui: { say: (s?: string) => void; head: (s: string) => void }): Promise<Record<string, unknown>> {
  const { say, head } = ui;
  const c = ctx.out.c;
  const scratch = path.join(path.dirname(dir), 'race-scratch');
  prepare(dir, path.join(scratch, 'agents'));
  const task = 'add(2, 3) should be 5: fix src/math.js';
  head(`race ${JSON.stringify(task)} --models fixer,rewriter,guesser --check "node check.mjs"`);
  say('three scripted agents, each in its own git worktree with its own checkpoints, env and port');
  const plan = await planRace({ cwd: dir, task, models: 'fixer,rewriter,guesser', check: `"${process.execPath}" check.mjs`, worktreeDir: path.join(scratch, 'worktrees'), ckptBin: ctx.bin });
  const states = new Map<string, string>();
  const race = await runRace(plan, {
    ckptBin: ctx.bin,
    onUpdate: (r) => {
      for (const a of r.attempts) {
        if (states.get(a.name) === a.state || ['pending', 'setup', 'checking'].includes(a.state)) continue;
        states.set(a.name, a.state);
        say(`  ${c.dim(`[${a.name}]`)} ${a.state}`);
      }
    },
  });
  say('');
  say(renderSummary(race, ctx.out.color));
  if (!race.best) throw new CkptError('INTERNAL', 'the race demo found no best attempt', { data: { race: race.id } });

  head(`race pick ${race.best}   (its changes become uncommitted changes in your worktree)`);
  const repo = await openRepo(dir);
  const before = readFileSync(path.join(dir, 'src', 'math.js'), 'utf8');
  const picked = await pickAttempt(race, race.best, { mode: 'apply' });
  for (const c of picked.changes) say(`  ${c.action.padEnd(6)} ${c.path}`);
  let checkOk = true;
  try {
    execFileSync(process.execPath, ['check.mjs'], { cwd: dir, stdio: 'ignore' });
  } catch {
    checkOk = false;
  }
  say(`  node check.mjs in your worktree: ${checkOk ? 'passes' : 'FAILS'}`);

  head('ckpt rollback --undo   (the pick is a checkpoint like any other)');
  await rollback(repo, { undo: true });
  const restored = readFileSync(path.join(dir, 'src', 'math.js'), 'utf8') === before;
  say(`  src/math.js back to the bug: ${restored}`);
  if (!checkOk || !restored) throw new CkptError('INTERNAL', 'the race demo found a difference after pick and undo');
  return {
    race: race.id,
    best: race.best,
    attempts: race.attempts.map((a) => ({ name: a.name, state: a.state, check: a.check?.passed ?? null, files: a.files, steps: a.steps })),
    pickedChanges: picked.changes.length,
    checkPassedAfterPick: checkOk,
    undone: restored,
  };
}
