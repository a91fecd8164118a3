/** `race pick ATTEMPT [--squash | --merge | --branch NAME] [--dry-run]`. */
import pc from 'picocolors';
import type { Ctx } from '../main.js';
import { CkptError } from '../../core/errors.js';
import { openRepo } from '../../git/repo.js';
import { pickAttempt, type PickMode } from '../../race/pick.js';
import { resolveRace } from '../../race/store.js';

export async function run(ctx: Ctx, attempt: string, opts: { race?: string; squash?: boolean; merge?: boolean; branch?: string; dryRun?: boolean }): Promise<void> {
  const modes = [opts.squash, opts.merge, opts.branch !== undefined].filter(Boolean).length;
  if (modes > 1) throw new CkptError('INVALID_ARGUMENT', 'give at most one of --squash, --merge, --branch', { hint: 'Without any, the changes are applied to your worktree, uncommitted.' });
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, opts.race);
  const how: PickMode = opts.branch !== undefined ? { mode: 'branch', branch: opts.branch } : opts.squash ? { mode: 'squash' } : opts.merge ? { mode: 'merge' } : { mode: 'apply' };
  if (opts.dryRun && how.mode !== 'apply') throw new CkptError('INVALID_ARGUMENT', '--dry-run only applies to the default mode');
  const res = await pickAttempt(race, attempt, how, { dryRun: !!opts.dryRun, saveTo: repo });
  ctx.out.result(res);
  switch (res.mode) {
    case 'apply':
      if (res.changes.length === 0) {
        ctx.out.line(`${attempt} changed nothing${opts.dryRun ? '' : ' that is not already in your worktree'}`);
        return;
      }
      ctx.out.line(`${opts.dryRun ? 'would apply' : 'applied'} ${attempt}'s changes to ${race.worktree} (uncommitted):`);
      for (const c of res.changes) ctx.out.line(`  ${c.action === 'delete' ? pc.red('D') : c.from === null ? pc.green('A') : pc.yellow('M')} ${c.path}`);
      if (!opts.dryRun) ctx.out.line(`\nundo with: ${pc.bold('ckpt rollback --undo')}`);
      return;
    case 'branch':
      ctx.out.line(`created branch ${res.branch} at ${res.commit!.slice(0, 10)} holding ${attempt}; your worktree is untouched`);
      return;
    default:
      ctx.out.line(`${res.mode === 'merge' ? 'merged' : 'squashed'} ${attempt} into the current branch (${res.commit!.slice(0, 10)}); checkpoint before it: ${res.preSnapshot!.slice(0, 10)}`);
  }
}
