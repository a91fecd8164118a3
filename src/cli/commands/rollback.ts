/** `ckpt rollback [TARGET] [--to TIME] [--undo] [-- PATHS]`. */
import pc from 'picocolors';
import type { Ctx } from '../main.js';
import { CkptError } from '../../core/errors.js';
import { openRepo } from '../../git/repo.js';
import { rollback } from '../../snapshot/rollback.js';
import { toRepoPaths } from '../paths.js';

export async function run(ctx: Ctx, target: string | undefined, opts: { to?: string; undo?: boolean; dryRun?: boolean }): Promise<void> {
  if ([target, opts.to, opts.undo].filter((x) => x !== undefined && x !== false).length > 1) {
    throw new CkptError('INVALID_ARGUMENT', 'give one of TARGET, --to TIME or --undo', { hint: 'See `ckpt rollback --help`.' });
  }
  const repo = await openRepo(ctx.cwd);
  const paths = toRepoPaths(repo, ctx.cwd, ctx.paths);
  const res = await rollback(repo, {
    ...(target !== undefined ? { target } : {}),
    ...(opts.to ? { to: opts.to } : {}),
    ...(opts.undo ? { undo: true } : {}),
    ...(paths.length ? { paths } : {}),
    dryRun: !!opts.dryRun,
  });
  ctx.out.result(res);
  if (res.recovered) ctx.out.warn('an interrupted rollback was finished first');
  const what = opts.undo ? `undid the rollback recorded in step ${res.target.step}` : `step ${res.target.step} (${res.target.id.slice(0, 10)}, ${res.target.kind}${res.target.tool ? ` ${res.target.tool}` : ''})`;
  if (res.changes.length === 0) {
    ctx.out.line(`nothing to change: the ${paths.length ? 'paths already match' : 'worktree already matches'} ${opts.undo ? 'that state' : what}`);
    return;
  }
  const verb = res.dryRun ? 'would restore' : 'restored';
  ctx.out.line(`${verb} ${opts.undo ? 'the state before the last rollback' : what}:`);
  for (const c of res.changes) {
    const sign = c.action === 'delete' ? pc.red('D') : c.from === null ? pc.green('A') : c.action === 'mode' ? pc.cyan('X') : pc.yellow('M');
    const note = c.action === 'mode' ? ` (mode ${c.from} → ${c.to})` : c.action === 'link' ? ' (symlink)' : '';
    ctx.out.line(`  ${sign} ${c.path}${note}`);
  }
  for (const k of res.kept) ctx.out.line(`  ${pc.dim('=')} ${k} ${pc.dim('(kept: ignored in that state)')}`);
  for (const s of res.skipped) ctx.out.warn(s);
  if (!res.dryRun) ctx.out.line(`\nundo this with: ${pc.bold('ckpt rollback --undo')}`);
  else ctx.out.line('\n(dry run: nothing changed)');
}
