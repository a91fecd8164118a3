/**
 * Which directories have no subdirectory, told by their link count: on the
 * file systems that count them (a directory's `st_nlink` is 2 + its
 * subdirectories: ext2/3/4, XFS, tmpfs; as GNU find's and fts' "leaf
 * optimization" reads it), a directory whose lstat says 2 has none, and the
 * daemon's walk (tree-watch.ts) need not read it (its `.gitignore` is looked
 * for only when a directory appears in it). Most directories of a worktree
 * are such leaves (6,008 of the 100k-file benchmark's 9,926 watched): their
 * readdir was a third of the walk's time and most of its garbage (a name and
 * a Dirent per file).
 *
 * Elsewhere (btrfs says 1; NFS, CIFS, AFS, FUSE and overlayfs may say
 * anything; any system but Linux) no directory is taken for a leaf: each is
 * read as before.
 */
import { lstatSync, statfsSync } from 'node:fs';

/** statfs(2) `f_type` of the file systems whose directory link counts are 2 + subdirectories (linux/magic.h). */
const COUNTING_FS = new Set([
  0xef53, // ext2, ext3, ext4 (a directory past 65,000 subdirectories says 1: read then)
  0x58465342, // XFS
  0x01021994, // tmpfs
]);

/**
 * The device (`st_dev`) of `root` when it is on a file system that counts
 * subdirectories in link counts (Linux only), else null. A directory on
 * another device (a mount inside the worktree) is not judged by its count.
 * Never throws (null).
 */
export function leafDevice(root: string): number | null {
  if (process.platform !== 'linux') return null;
  try {
    return COUNTING_FS.has(statfsSync(root).type) ? lstatSync(root).dev : null;
  } catch {
    return null;
  }
}

/**
 * Whether the directory `abs` (inode `ino`, its lstat read before its watch
 * was placed, with a link count of 2) still has no subdirectory now that it
 * is watched: the same inode, still 2 links. Read after the watch, so a
 * subdirectory made between the first lstat and the watch is not missed (it
 * raised the count: the directory is read), and one made later has its event.
 * Never throws (false: read it).
 */
export function isLeaf(abs: string, ino: number): boolean {
  try {
    const again = lstatSync(abs, { throwIfNoEntry: false });
    return again !== undefined && again.ino === ino && again.nlink === 2;
  } catch {
    return false;
  }
}

/** Whether `file` is a regular file (not followed: git reads no `.gitignore` through a symlink). Never throws (false). */
export function isFile(file: string): boolean {
  try {
    return lstatSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}
