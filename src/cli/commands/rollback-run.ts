/**
 * What `ckpt rollback` does once its options are valid (cli/commands/rollback.ts
 * declares and validates them with commander and zod; cli/lean-rollback.ts
 * parses the simple forms without either): one library call, printed
 * through `ctx.out`.
 */
import { CkptError } from '../../core/errors.js';
import { openRepo } from '../../git/repo.js';
import { rollback, type FileChange } from '../../snapshot/rollback.js';
import type { WorktreeReader } from '../../snapshot/reader.js';
import { daemonReader } from '../../watch/daemon-reader.js';
import type { Ctx } from '../context.js';
import { toRepoPaths } from '../paths.js';

/** `ckpt rollback`'s validated input (the output of its schema in rollback.ts). */
export interface RollbackInput {
  target?: string | undefined;
  /** A point in time, already checked by `parseTimePoint`. */
  to?: string | undefined;
  undo?: boolean | undefined;
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
}

/** How {@link run} reads the worktree. */
export interface RunOptions {
  /** The reader to use (the daemon's own, when the daemon runs the command: cli/daemon-rollback.ts); default: the daemon's over its socket when it is wanted (watch/daemon-reader.ts), else git. */
  reader?: WorktreeReader;
}

/** Runs `ckpt rollback`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: RollbackInput, opts: RunOptions = {}): Promise<void> {
  if ([input.target, input.to, input.undo].filter((x) => x !== undefined && x !== false).length > 1) {
    throw new CkptError('INVALID_ARGUMENT', 'give one of TARGET, --to TIME or --undo', { hint: 'See `ckpt rollback --help`.' });
  }
  const out = ctx.out;
  const c = out.c;
  const repo = await openRepo(ctx.cwd);
  const paths = toRepoPaths(repo, ctx.cwd, ctx.paths);
  const asked = opts.reader ? null : daemonReader(repo);
  const reader = opts.reader ?? asked;
  const res = await rollback(repo, {
    ...(input.target !== undefined ? { target: input.target } : {}),
    ...(input.to ? { to: input.to } : {}),
    ...(input.undo ? { undo: true } : {}),
    ...(paths.length ? { paths } : {}),
    dryRun: !!input.dryRun,
    // When the repository's daemon runs, it reads the worktree from what changed.
    reader,
  });
  // None answered: one is started for the next rollbacks and hooks (detached; not from inside a race's attempt).
  if (asked?.unanswered) (await import('../../watch/daemon-control.js')).startDaemonDetached(repo.worktree, ctx.bin);
  out.result(res);
  if (res.interrupted) {
    const it = res.interrupted;
    const first = it.action === 'undo' ? 'put back the state before it' : 'finish it';
    out.warn(`an interrupted ${it.label} is pending (left as it is): the real command would first ${first}${input.undo ? ', and that is the whole undo' : ''}`);
    if (!input.undo) {
      out.line(`it would first ${it.action === 'undo' ? 'put back' : 'finish'}:`);
      printChanges(out, it.changes);
      if (it.changes.length === 0) out.line(`  ${c.dim('(nothing to change)')}`);
    }
  }
  if (res.recovered) out.warn(input.undo ? 'an interrupted rollback was undone: its files were put back from its pre-rollback snapshot' : 'an interrupted rollback was ended first');
  for (const w of res.warnings) out.warn(w);
  const what = input.undo ? `undid the rollback recorded in step ${res.target.step}` : `step ${res.target.step} (${res.target.id.slice(0, 10)}, ${res.target.kind}${res.target.tool ? ` ${out.q(res.target.tool)}` : ''})`;
  if (res.changes.length === 0) {
    out.line(`nothing to change: the ${paths.length ? 'paths already match' : 'worktree already matches'} ${input.undo ? 'that state' : what}`);
    return;
  }
  const verb = res.dryRun ? 'would restore' : 'restored';
  out.line(`${verb} ${input.undo ? 'the state before the last rollback' : what}:`);
  printChanges(out, res.changes);
  for (const k of res.kept) out.line(`  ${c.dim('=')} ${out.q(k)} ${c.dim('(kept: ignored in that state)')}`);
  for (const s of res.skipped) out.warn(s);
  if (!res.dryRun) out.line(`\nundo this with: ${c.bold('ckpt rollback --undo')}`);
  else out.line('\n(dry run: nothing changed)');
}

function printChanges(out: Ctx['out'], changes: FileChange[]): void {
  const c = out.c;
  for (const ch of changes) {
    const sign = ch.action === 'delete' ? c.red('D') : ch.from === null ? c.green('A') : ch.action === 'mode' ? c.cyan('X') : c.yellow('M');
    const note = ch.action === 'mode' ? ` (mode ${ch.from} → ${ch.to})` : ch.action === 'link' ? ' (symlink)' : '';
    out.line(`  ${sign} ${out.q(ch.path)}${note}`);
  }
}
