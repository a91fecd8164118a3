/**
 * A small file system for the full-disk tests: a tmpfs of a given size
 * mounted at a new temp dir, where the machine lets the test mount one
 * (root on Linux), and unmounted by the test; a mount still busy then is
 * the failure it is (something of ckpt still held it), named with its
 * holders.
 */
import { spawnSync } from 'node:child_process';
import { stopDaemonsIn } from './daemons.js';
import { tempDir } from './repo.js';

/** A mounted tmpfs: its directory, and how to unmount it. */
export interface SmallDisk {
  dir: string;
  /**
   * Stops the daemon of any repository on it (a hook there starts one),
   * then unmounts it, retrying for up to 30 s while it is busy (git
   * children still exiting there).
   *
   * @throws Error when it is still busy then, naming the processes that hold it (it is detached all the same: no mount outlives the test).
   */
  unmount: () => Promise<void>;
}

/** Mounts a tmpfs of `size` (`8m`) at a new temp dir; the reason instead where this machine does not allow it. */
export function mountSmallDisk(size: string, prefix = 'ckpt-full-'): SmallDisk | { reason: string } {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return { reason: 'needs root on Linux to mount a tmpfs' };
  const dir = tempDir(prefix);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) return { reason: `mount -t tmpfs refused: ${m.stderr.trim()}` };
  return {
    dir,
    unmount: async () => {
      await stopDaemonsIn(dir);
      let u = spawnSync('umount', [dir], { encoding: 'utf8' });
      for (const deadline = Date.now() + 30_000; u.status !== 0 && Date.now() < deadline; u = spawnSync('umount', [dir], { encoding: 'utf8' })) await new Promise((r) => setTimeout(r, 50));
      if (u.status === 0) return;
      const held = spawnSync('sh', ['-c', `for p in /proc/[0-9]*; do for f in $p/fd/* $p/cwd; do t=$(readlink $f 2>/dev/null); case "$t" in ${dir}*) echo "$p $t $(cat $p/cmdline | tr '\\0' ' ')";; esac; done; done`], { encoding: 'utf8' }).stdout;
      spawnSync('umount', ['-l', dir]);
      throw new Error(`umount ${dir} failed: ${u.stderr.trim()}; held by: ${held}`);
    },
  };
}
