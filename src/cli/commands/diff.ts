/** `ckpt diff [FROM] [TO] [-- PATHS]`. */
import type { Ctx } from '../main.js';
import { openRepo } from '../../git/repo.js';
import { diff } from '../../snapshot/diff.js';
import { toRepoPaths } from '../paths.js';
import { useColor } from '../output.js';

export async function run(ctx: Ctx, from: string | undefined, to: string | undefined, opts: { stat?: boolean; color?: boolean }): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const paths = toRepoPaths(repo, ctx.cwd, ctx.paths);
  const explicitColor = process.argv.includes('--color') ? true : process.argv.includes('--no-color') ? false : undefined;
  const color = !ctx.out.json && (explicitColor ?? useColor());
  const res = await diff(repo, {
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(paths.length ? { paths } : {}),
    color,
    statOnly: !!opts.stat,
  });
  ctx.out.result({ from: res.from, to: res.to, files: res.files, patch: opts.stat ? undefined : res.patch });
  const label = `step ${res.from.step} → ${res.to ? `step ${res.to.step}` : 'worktree'}`;
  if (res.files.length === 0) {
    ctx.out.line(`no changes (${label})`);
    return;
  }
  if (opts.stat) {
    const w = Math.max(...res.files.map((f) => f.path.length));
    for (const f of res.files) ctx.out.line(` ${f.status} ${f.path.padEnd(w)} | ${f.binary ? 'binary' : `+${f.insertions} −${f.deletions}`}`);
    const ins = res.files.reduce((a, f) => a + f.insertions, 0);
    const del = res.files.reduce((a, f) => a + f.deletions, 0);
    ctx.out.line(` ${res.files.length} file(s) changed, +${ins} −${del} (${label})`);
    return;
  }
  if (!ctx.out.json) process.stdout.write(res.patch);
}
