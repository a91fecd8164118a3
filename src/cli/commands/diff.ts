/** `ckpt diff [FROM] [TO] [-- PATHS]`. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { diff } from '../../snapshot/diff.js';
import { flag, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { toRepoPaths } from '../paths.js';
import { counted } from '../../core/plural.js';

/** Arguments and options of `ckpt diff` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ from: z.string().optional(), to: z.string().optional(), stat: flag, json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt diff` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('diff')
    .description('show changes between two snapshots, or a snapshot and the worktree')
    .argument('[from]', 'older snapshot: step, -N or id (default: the newest)')
    .argument('[to]', 'newer snapshot (default: the live worktree)')
    .option('--stat', 'only per-file counts')
    .option('--json', 'print JSON')
    .allowExcessArguments(false)
    .action(act(schema, run));
}

/** Runs `ckpt diff`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const paths = toRepoPaths(repo, ctx.cwd, ctx.paths);
  const out = ctx.out;
  const res = await diff(repo, {
    ...(input.from ? { from: input.from } : {}),
    ...(input.to ? { to: input.to } : {}),
    ...(paths.length ? { paths } : {}),
    color: out.color,
    statOnly: !!input.stat,
  });
  out.result({ from: res.from, to: res.to, files: res.files, patch: input.stat ? undefined : res.patch });
  const label = `step ${res.from.step} → ${res.to ? `step ${res.to.step}` : 'worktree'}`;
  if (res.files.length === 0) {
    out.line(`no changes (${label})`);
    return;
  }
  if (input.stat) {
    const names = res.files.map((f) => out.q(f.path));
    const w = Math.max(...names.map((n) => n.length));
    res.files.forEach((f, i) => out.line(` ${f.status} ${names[i]!.padEnd(w)} | ${f.binary ? 'binary' : `+${f.insertions} −${f.deletions}`}`));
    const ins = res.files.reduce((a, f) => a + f.insertions, 0);
    const del = res.files.reduce((a, f) => a + f.deletions, 0);
    out.line(` ${counted(res.files.length, 'file')} changed, +${ins} −${del} (${label})`);
    return;
  }
  out.raw(res.patch);
}
