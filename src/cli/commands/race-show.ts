/** `race show`, `race list`, `race clean`. */
import Table from 'cli-table3';
import type { Ctx } from '../main.js';
import { openRepo } from '../../git/repo.js';
import { listRaces, resolveRace } from '../../race/store.js';
import { cleanRace, cleanRefusal } from '../../race/clean.js';
import { renderSummary } from '../race-table.js';
import { age, useColor } from '../output.js';

export async function run(ctx: Ctx, opts: { race?: string }): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, opts.race);
  ctx.out.result(race);
  ctx.out.line(`race ${race.id}  ${race.state}  started ${age(race.createdAt)}`);
  ctx.out.line(`task: ${race.task}`);
  ctx.out.line(`base: ${race.base.spec ?? 'the worktree at the start'} (${race.base.snapshot.slice(0, 10)})${race.check ? `   check: ${race.check}` : ''}`);
  ctx.out.line(renderSummary(race, useColor()));
  for (const a of race.attempts) {
    if (a.error) ctx.out.line(`${a.name}: ${a.error}`);
  }
  for (const a of race.attempts) {
    if (a.check && !a.check.passed && a.check.tail) {
      ctx.out.line(`\n${a.name} check (${a.check.command}) output, last lines:`);
      ctx.out.line(a.check.tail.split('\n').slice(-10).map((l) => `  ${l}`).join('\n'));
    }
  }
  ctx.out.line(`\nworktrees: ${race.cleaned ? 'removed (race clean)' : race.attempts.map((a) => a.dir).join('  ')}`);
  ctx.out.line(`logs: ${race.attempts.map((a) => a.log).join('  ')}`);
  if (race.picked) ctx.out.line(`picked: ${race.picked.attempt} (${race.picked.mode}) ${age(race.picked.at)}${race.picked.mode === 'apply' ? ' — undo: ckpt rollback --undo' : ''}`);
  for (const w of race.warnings) ctx.out.warn(w);
}

export async function list(ctx: Ctx): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const races = listRaces(repo);
  ctx.out.result({ races });
  if (races.length === 0) {
    ctx.out.line('no races yet: race "TASK" --models claude,codex');
    return;
  }
  const t = new Table({ head: ['race', 'started', 'state', 'attempts', 'best', 'picked', 'task'], style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const r of races) {
    const task = r.task.replace(/\s+/g, ' ');
    t.push([r.id, age(r.createdAt), r.state, r.attempts.map((a) => a.name).join(','), r.best ?? '—', r.picked?.attempt ?? '—', task.length > 40 ? task.slice(0, 39) + '…' : task]);
  }
  ctx.out.line(t.toString());
}

export async function clean(ctx: Ctx, opts: { race?: string }): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, opts.race);
  if (race.state === 'running') {
    const { CkptError } = await import('../../core/errors.js');
    throw new CkptError('INVALID_ARGUMENT', `race ${race.id} is still running`, { hint: 'Stop it first (Ctrl-C in its terminal).' });
  }
  const res = await cleanRace(repo, race);
  for (const x of res.attempts) {
    if (!x.removed) ctx.out.line(`${x.attempt}: kept ${x.dir}: ${x.reason}`);
    else if (x.kept.length > 0) ctx.out.line(`${x.attempt}: removed; ${x.kept.length} path(s) changed after the race are kept in snapshot ${x.snapshot?.slice(0, 10)} (race pick ${x.attempt} takes them): ${x.kept.slice(0, 10).join(', ')}${x.kept.length > 10 ? ', …' : ''}`);
    else ctx.out.line(`${x.attempt}: removed`);
  }
  const refusal = cleanRefusal(res);
  if (refusal) throw refusal;
  ctx.out.result(res);
  ctx.out.line(`removed ${res.attempts.length} worktree(s) and branch(es) of race ${race.id}; the attempts stay reachable as checkpoints until ckpt gc`);
}
