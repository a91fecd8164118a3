/**
 * git's temporary object files (`objects/xx/tmp_obj_*`, `objects/pack/tmp_*`)
 * left behind when a git child of ckpt failed half-way through writing an
 * object: on a full disk, git 2.39's `add` leaves each partial object in
 * place, and every retry adds one more until the disk is full to the byte.
 */
import { readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Removes the temporary object files under `objectsDir` that appeared since
 * `sinceMs` (ms since the epoch) and that no process has open (Linux
 * `/proc/<pid>/fd`; a temp file of a git still running, ours or the user's,
 * is never touched). Where `/proc` cannot be read, removes nothing.
 *
 * @returns the number of bytes removed.
 */
export function removeTempObjects(objectsDir: string, sinceMs: number): number {
  const candidates: string[] = [];
  let dirs: string[];
  try {
    dirs = readdirSync(objectsDir);
  } catch {
    return 0;
  }
  for (const d of dirs) {
    if (!/^[0-9a-f]{2}$|^pack$/.test(d)) continue;
    let names: string[];
    try {
      names = readdirSync(path.join(objectsDir, d));
    } catch {
      continue;
    }
    for (const n of names) if (n.startsWith('tmp_obj_') || (d === 'pack' && n.startsWith('tmp_'))) candidates.push(path.join(objectsDir, d, n));
  }
  if (candidates.length === 0) return 0;
  const open = openFiles();
  if (open === null) return 0;
  let freed = 0;
  for (const f of candidates) {
    try {
      const st = statSync(f);
      if (st.mtimeMs < sinceMs - 1000 || open.has(f)) continue;
      rmSync(f, { force: true });
      freed += st.size;
    } catch {
      // gone meanwhile
    }
  }
  return freed;
}

/** Every file some process has open (targets of `/proc/<pid>/fd/*`), or null when that cannot be known. */
function openFiles(): Set<string> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  const out = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at: its files are not git's temp objects of this repository, or stay
    }
    for (const fd of fds) {
      try {
        out.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}
