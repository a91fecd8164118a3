/**
 * git's own rule for which tree entry names may ever be written to a
 * worktree: `verify_path()` in git's read-cache.c with the NTFS and HFS+
 * protections of path.c (`is_ntfs_dotgit`, `is_ntfs_dotgitmodules`,
 * `is_hfs_dotgit`, `is_hfs_dotgitmodules`), all applied on every platform, as
 * `core.protectNTFS` and `core.protectHFS` would. A path git refuses to check
 * out, ckpt refuses to restore.
 */

/** Code points HFS+ ignores when comparing names (path.c `next_hfs_char`). */
const HFS_IGNORED = new Set([0x200c, 0x200d, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x206a, 0x206b, 0x206c, 0x206d, 0x206e, 0x206f, 0xfeff]);

/**
 * Whether git would write the tree entry `rel` (repository-relative, raw
 * bytes) with `mode` (`100644`, `120000`, …) to a worktree.
 *
 * Rejected: an empty, `.` or `..` component; `.git` in any case; on NTFS's
 * terms `.git` followed by dots or spaces (`.git `, `.git.`), its 8.3 short
 * name `git~1`, an alternate stream (`.git::$INDEX_ALLOCATION`), and `\` as a
 * separator before any of them; on HFS+'s terms `.git` with ignorable code
 * points inside (`.g\u200cit`); and `.gitmodules` (and its NTFS/HFS+ spellings,
 * `gitmod~1`, `gi7eba~1`) as a symlink.
 */
export function verifyPath(rel: Buffer | string, mode: string): boolean {
  const name = typeof rel === 'string' ? rel : rel.toString('utf8');
  if (name === '' || name.startsWith('/') || name.endsWith('/')) return false;
  const isLink = mode === '120000';
  const parts = name.split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (part === '' || part === '.' || part === '..') return false;
    if (part.toLowerCase() === '.git') return false;
    // Every place a component starts, with `\` as a separator too (NTFS).
    for (const piece of part.split('\\')) {
      if (isNtfsDotGit(piece) || isHfsDotGeneric(piece, 'git')) return false;
      if (isLink && last && (isNtfsDotGeneric(piece, 'gitmodules', 'gi7eba') || isHfsDotGeneric(piece, 'gitmodules'))) return false;
    }
  }
  return true;
}

/** NTFS: `.git` or `git~1` (any case), then only spaces and dots, up to the end or a `:` stream suffix. */
function isNtfsDotGit(c: string): boolean {
  const lower = c.toLowerCase();
  let rest: string;
  if (lower.startsWith('.git')) rest = c.slice(4);
  else if (lower.startsWith('git~1')) rest = c.slice(5);
  else return false;
  return onlySpacesAndDots(rest);
}

function onlySpacesAndDots(rest: string): boolean {
  for (const ch of rest) {
    if (ch === ':') return true;
    if (ch !== ' ' && ch !== '.') return false;
  }
  return true;
}

/** path.c `is_ntfs_dot_generic`: `.NAME`, `NAME6~N` (N 1-4) or the fallback short name `PREFIX~N`, each then only spaces and dots. */
function isNtfsDotGeneric(c: string, dotName: string, shortPrefix: string): boolean {
  const lower = c.toLowerCase();
  if (lower.startsWith(`.${dotName}`)) return onlySpacesAndDots(c.slice(dotName.length + 1));
  if (lower.startsWith(dotName.slice(0, 6)) && c[6] === '~' && c[7]! >= '1' && c[7]! <= '4') return onlySpacesAndDots(c.slice(8));
  // Fallback 8.3 name: up to 6 characters of the prefix, `~`, a digit 1-9, then digits (8 characters in all).
  let sawTilde = false;
  for (let i = 0; i < 8; i++) {
    const ch = c[i];
    if (ch === undefined) return false;
    if (sawTilde) {
      if (ch < '0' || ch > '9') return false;
    } else if (ch === '~') {
      i++;
      const d = c[i];
      if (d === undefined || d < '1' || d > '9') return false;
      sawTilde = true;
    } else if (i >= 6) return false;
    else if (ch.charCodeAt(0) > 0x7f) return false;
    else if (ch.toLowerCase() !== shortPrefix[i]) return false;
  }
  return onlySpacesAndDots(c.slice(8));
}

/** HFS+: `.NAME` in any case once the ignorable code points are dropped, and nothing after it. */
function isHfsDotGeneric(c: string, needle: string): boolean {
  const chars = [...c].filter((ch) => !HFS_IGNORED.has(ch.codePointAt(0)!));
  if (chars[0] !== '.') return false;
  if (chars.length !== needle.length + 1) return false;
  for (let i = 0; i < needle.length; i++) {
    const ch = chars[i + 1]!;
    if (ch.codePointAt(0)! > 127 || ch.toLowerCase() !== needle[i]) return false;
  }
  return true;
}
