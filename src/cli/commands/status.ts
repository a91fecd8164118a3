/** `ckpt status`: worktrees with snapshots, last step, storage. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { shadowDir } from '../../git/shadow.js';
import { storeBytes } from '../../git/store.js';
import { verifyChainsReport } from '../../snapshot/chains.js';
import { status } from '../../snapshot/gc.js';
import { peekJournal } from '../../snapshot/restore/journal.js';
import { json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { age, bytes } from '../output.js';

/** Arguments and options of `ckpt status` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt status` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('status')
    .description('worktrees with snapshots, the last step of each, and the storage they take')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `ckpt status`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, _input: Input): Promise<void> {
  const out = ctx.out;
  const repo = await openRepo(ctx.cwd);
  // Chains checked against their record first: a deleted or rewound one is put back and reported.
  const repairs = await verifyChainsReport(repo);
  const chains = await status(repo);
  const store = { path: shadowDir(repo), bytes: storeBytes(repo), repairs };
  const interrupted = peekJournal(repo);
  out.result({ current: repo.id, worktrees: chains, store, interrupted });
  for (const r of repairs) out.line(out.q(r));
  if (interrupted?.changedNothing) {
    out.warn(`an interrupted ${interrupted.label} is pending in this worktree: it was stopped before it changed anything; the next \`ckpt rollback\` removes its journal (\`--undo\` refuses once, never undoing an older rollback in its place)`);
  } else if (interrupted) {
    const first = interrupted.next === 'undo' ? 'puts back the state before it' : 'finishes it (`ckpt rollback --undo` puts back the state before it instead)';
    out.warn(`an interrupted ${interrupted.label} is pending in this worktree${interrupted.startedAt ? ` (started ${age(interrupted.startedAt)})` : ''}: the next \`ckpt rollback\` ${first}; \`ckpt rollback --dry-run\` shows what it would change`);
  }
  if (chains.length === 0) {
    out.line('no snapshots in this repository yet');
    return;
  }
  const rows = chains.map((c) => {
    const here = c.id === repo.id ? '* ' : '  ';
    return [
      here + out.q(c.worktree || c.id) + (c.present ? '' : ' (gone)'),
      String(c.snapshots),
      c.last ? String(c.last.step) : '—',
      c.last ? age(c.last.time) : '—',
      c.last ? out.q(c.last.kind) : '—',
      c.bytes === null ? '—' : bytes(c.bytes),
    ];
  });
  out.table({ head: ['worktree', 'snapshots', 'last step', 'when', 'kind', 'storage'], rows });
  out.line(`ckpt's store: ${bytes(store.bytes)} on disk (${store.bytes} bytes, ${out.q(store.path)}); "storage" is what each chain alone holds beyond your branches`);
  // What the last snapshot of each worktree left out (over the size cap, unreadable).
  for (const c of chains) {
    if (!c.last || c.last.notCapturedCount === 0) continue;
    out.line(`not captured in the last snapshot of ${out.q(c.worktree || c.id)} (left as they are):`);
    for (const n of c.last.notCaptured) out.line(`  ${out.q(n.path)}: ${n.reason === 'too-large' ? `${bytes(n.size ?? 0)}, over the size cap for untracked files` : n.reason === 'unreadable' ? 'cannot be read' : 'a FIFO, socket or device'}`);
    if (c.last.notCapturedCount > c.last.notCaptured.length) out.line(`  … and ${c.last.notCapturedCount - c.last.notCaptured.length} more`);
  }
}
