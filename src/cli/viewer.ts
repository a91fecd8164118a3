/**
 * Serving or writing the viewer, shared by `ckpt view` (a worktree's own
 * checkpoints) and `race view` (a race's attempts).
 */
import path from 'node:path';
import type { Repo } from '../git/repo.js';
import type { RaceRecord } from '../race/types.js';
import type { Ctx } from './context.js';
import { counted } from '../core/plural.js';

/** Options of `race view` / `ckpt view`, validated. */
export interface ViewInput {
  /** False with `--no-open`. */
  open?: boolean;
  out?: string;
  /** 0: a free port. */
  port?: number;
}

/** Writes the report (`--out`) or serves the viewer on 127.0.0.1 until SIGINT/SIGTERM. */
export async function view(ctx: Ctx, repo: Repo, race: RaceRecord | null, input: ViewInput): Promise<void> {
  const out = ctx.out;
  const what = race ? `race ${out.q(race.id)}` : `the checkpoints of ${out.q(repo.worktree)}`;
  if (input.out) {
    const { writeReport } = await import('../view/report.js');
    const res = await writeReport({ repo, race, out: path.resolve(ctx.cwd, input.out) });
    out.result(res);
    out.line(`wrote ${out.q(res.out)} (${what}, ${counted(res.files, 'file')}, ${Math.round(res.bytes / 1024)} KiB)`);
    return;
  }
  const { startViewer } = await import('../view/server.js');
  const viewer = await startViewer({ repo, race, port: input.port ?? 0, open: input.open !== false });
  out.result({ url: viewer.url, port: viewer.port, race: race?.id ?? null });
  out.line(`viewing ${what} at ${viewer.url}`);
  out.line('Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await viewer.close();
}
