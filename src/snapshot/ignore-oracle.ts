/**
 * git's own answer to "is this path ignored?", from one long-lived
 * `git check-ignore --stdin -z --no-index --verbose --non-matching`
 * (git-check-ignore(1)): exact gitignore(5) semantics at the cost of a pipe
 * round trip, for a process that keeps the changed paths of a worktree (the
 * daemon). git reads each directory's `.gitignore` once, so the caller ends
 * the oracle and opens a new one whenever an ignore source may have changed.
 *
 * Ancestors are asked first, as git's own directory walk does: a path in an
 * ignored directory is ignored whatever a later rule says (gitignore(5): "It
 * is not possible to re-include a file if a parent directory of that file is
 * excluded").
 */
import type { ChildProcess } from 'node:child_process';
import { CkptError } from '../core/errors.js';
import { spawnGit } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';

interface Pending {
  resolve: (ignored: boolean) => void;
  reject: (err: Error) => void;
}

/** A running `git check-ignore --stdin`; answers in the order asked. */
export class IgnoreOracle {
  private readonly child: ChildProcess;
  private readonly queue: Pending[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private dead: Error | null = null;
  /** Answers for directories (they cannot change while the rules do not). */
  private readonly dirs = new Map<string, boolean>();

  /** Starts git for `repo`'s worktree (shadow environment: ckpt's view of the rules). */
  constructor(repo: Repo) {
    this.child = spawnGit(['check-ignore', '--stdin', '-z', '--no-index', '--verbose', '--non-matching'], {
      cwd: repo.worktree,
      env: { ...shadowEnv(repo), GIT_FLUSH: '1', GIT_INDEX_FILE: undefined },
    });
    let stderr = '';
    this.child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-2000);
    });
    this.child.stdout!.on('data', (c: Buffer) => this.onData(c));
    this.child.stdin!.on('error', () => undefined);
    const fail = (why: string): void => {
      if (this.dead) return;
      this.dead = new CkptError('GIT_FAILED', `git check-ignore ended: ${why} ${stderr.trim()}`.trim(), { data: { stderr } });
      for (const p of this.queue.splice(0)) p.reject(this.dead);
    };
    this.child.on('error', (err) => fail(err.message));
    this.child.on('close', (code, signal) => fail(`exit ${code ?? signal}`));
  }

  private onData(c: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    // Each answer is four NUL-terminated fields: source, line, pattern, path.
    for (;;) {
      let pos = 0;
      const fields: Buffer[] = [];
      for (let i = 0; i < 4; i++) {
        const nul = this.buf.indexOf(0, pos);
        if (nul < 0) return;
        fields.push(this.buf.subarray(pos, nul));
        pos = nul + 1;
      }
      this.buf = this.buf.subarray(pos);
      const [source, , pattern] = fields;
      const ignored = source!.length > 0 && pattern![0] !== 0x21; // '!': a negated rule matched
      this.queue.shift()?.resolve(ignored);
    }
  }

  private ask(rel: string): Promise<boolean> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.child.stdin!.write(Buffer.concat([Buffer.from(rel, 'utf8'), Buffer.from([0])]));
    });
  }

  /**
   * Whether git ignores `rel` (worktree-relative, `/`-separated, existing:
   * git looks at it to tell a directory from a file) or any directory above it.
   *
   * @throws CkptError `GIT_FAILED` when git ended (a path beyond a symlink, say).
   */
  async ignored(rel: string, isDir: boolean): Promise<boolean> {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (await this.dirIgnored(parts.slice(0, i).join('/'))) return true;
    }
    return isDir ? this.dirIgnored(rel) : this.ask(rel);
  }

  private async dirIgnored(dir: string): Promise<boolean> {
    const known = this.dirs.get(dir);
    if (known !== undefined) return known;
    const v = await this.ask(dir);
    this.dirs.set(dir, v);
    return v;
  }

  /** Ends git. */
  close(): void {
    try {
      this.child.stdin!.end();
    } catch {
      // already gone
    }
    this.child.kill('SIGKILL');
  }
}
