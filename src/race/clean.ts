/** `race clean`: removing a race's worktrees and branches; its snapshots stay until `ckpt gc`. */
import { existsSync } from 'node:fs';
import { git } from '../git/exec.js';
import { openRepo, type Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import { takeSnapshot } from '../snapshot/take.js';
import { saveRace } from './store.js';
import type { RaceRecord } from './types.js';
import { removeAttemptWorktree } from './worktree.js';

/** Removes a race's worktrees and branches (snapshots stay until `ckpt gc`). */
export async function cleanRace(repo: Repo, race: RaceRecord): Promise<string[]> {
  const removed: string[] = [];
  for (const a of race.attempts) {
    if (existsSync(a.dir)) {
      // Record the attempt's last state first: nothing in it is lost.
      try {
        const r = await openRepo(a.dir);
        const s = await takeSnapshot(r, { kind: 'auto', agent: a.agent, message: `before race clean` });
        a.final = s.snapshot.id;
      } catch {
        // not a worktree any more
      }
    }
    await removeAttemptWorktree(repo, a.dir, a.branch);
    removed.push(a.dir);
  }
  race.cleaned = true;
  saveRace(repo, race);
  await git(['worktree', 'prune'], { cwd: repo.worktree, env: { ...realEnv(repo), GIT_WORK_TREE: undefined }, okCodes: [0, 128] });
  return removed;
}
