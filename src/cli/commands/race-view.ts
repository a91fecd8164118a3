/**
 * `race view [--race ID] [--no-open] [--out FILE] [--port N]`: the attempts
 * side by side in the browser (served on 127.0.0.1 until Ctrl-C), or a
 * self-contained HTML report with `--out`. `ckpt view` ({@link runWorktree})
 * does the same for this worktree's own checkpoints.
 */
import type { Ctx } from '../main.js';
import { CkptError } from '../../core/errors.js';
import { openRepo, type Repo } from '../../git/repo.js';
import { resolveRace } from '../../race/store.js';
import type { RaceRecord } from '../../race/types.js';

/** Options of `race view` / `ckpt view` (commander's, `--port` as typed). */
export interface ViewOpts {
  race?: string;
  /** False with `--no-open`. */
  open?: boolean;
  out?: string;
  port?: number | string;
}

/** `race view`. */
export async function run(ctx: Ctx, opts: ViewOpts): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, opts.race);
  await view(ctx, repo, race, opts);
}

/** `ckpt view`: this worktree's checkpoint timeline and per-step diffs. */
export async function runWorktree(ctx: Ctx, opts: ViewOpts): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  await view(ctx, repo, null, opts);
}

async function view(ctx: Ctx, repo: Repo, race: RaceRecord | null, opts: ViewOpts): Promise<void> {
  const port = parsePort(opts.port);
  const what = race ? `race ${race.id}` : `the checkpoints of ${repo.worktree}`;
  if (opts.out) {
    const { writeReport } = await import('../../view/report.js');
    const path = await import('node:path');
    const res = await writeReport({ repo, race, out: path.resolve(ctx.cwd, opts.out) });
    ctx.out.result(res);
    ctx.out.line(`wrote ${res.out} (${what}, ${res.files} file(s), ${Math.round(res.bytes / 1024)} KiB)`);
    return;
  }
  const { startViewer } = await import('../../view/server.js');
  const viewer = await startViewer({ repo, race, port, open: opts.open !== false });
  ctx.out.result({ url: viewer.url, port: viewer.port, race: race?.id ?? null });
  ctx.out.line(`viewing ${what} at ${viewer.url}`);
  ctx.out.line('Ctrl-C to stop');
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

function parsePort(v: number | string | undefined): number {
  if (v === undefined) return 0;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new CkptError('INVALID_ARGUMENT', `not a port number: ${JSON.stringify(v)}`, { hint: 'Give 1–65535, or leave --port out for a free one.' });
  }
  return n;
}
