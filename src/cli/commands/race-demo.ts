/** The race part of `ckpt demo` (filled in with the race work). */
import type { Ctx } from '../main.js';

export async function runRaceDemo(_ctx: Ctx, _dir: string, _ui: { color: boolean; say: (s?: string) => void; head: (s: string) => void }): Promise<unknown> {
  return null;
}
