/**
 * Reading objects in bulk with one `git cat-file --batch` process
 * (git-cat-file(1) "BATCH OUTPUT"): one spawn for any number of objects.
 */
import { CkptError } from '../core/errors.js';
import { git } from './exec.js';

/** An object read back: its id, type and raw content bytes. */
export interface GitObject {
  oid: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  content: Buffer;
}

/**
 * Reads each named object (an oid, a ref, `REV^{tree}`, …). Names that do not
 * resolve map to `null`.
 *
 * @param names object names; none may contain a newline.
 * @param env environment selecting the repository (see shadow.ts).
 * @throws CkptError `INVALID_ARGUMENT` for a name with a newline; `GIT_FAILED`.
 */
export async function readObjects(
  names: readonly string[],
  opts: { cwd: string; env: Record<string, string | undefined> },
): Promise<Map<string, GitObject | null>> {
  const out = new Map<string, GitObject | null>();
  if (names.length === 0) return out;
  for (const n of names) {
    if (n.includes('\n') || n === '') throw new CkptError('INVALID_ARGUMENT', `bad object name ${JSON.stringify(n)}`);
  }
  const { stdout } = await git(['cat-file', '--batch'], { cwd: opts.cwd, env: opts.env, input: names.join('\n') + '\n' });
  let pos = 0;
  for (const name of names) {
    const nl = stdout.indexOf(0x0a, pos);
    if (nl < 0) throw new CkptError('GIT_FAILED', 'short output from git cat-file --batch');
    const header = stdout.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    const parts = header.split(' ');
    if (parts.length === 3 && /^[0-9a-f]+$/.test(parts[0]!)) {
      const size = Number(parts[2]);
      const content = stdout.subarray(pos, pos + size);
      pos += size + 1; // content is followed by a newline
      out.set(name, { oid: parts[0]!, type: parts[1] as GitObject['type'], content: Buffer.from(content) });
    } else {
      // "<name> missing" or "<name> ambiguous"
      out.set(name, null);
    }
  }
  return out;
}
