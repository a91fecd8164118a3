/**
 * A long-lived `git cat-file --batch` (git-cat-file(1) "BATCH OUTPUT") that
 * takes many object names at once and answers them together: the requests
 * are written in one go and the answers parsed as they stream back, so a
 * batch costs one round trip to git however many objects it names. For small
 * objects read whole (trees); blobs of any size go through git/objects.ts
 * BlobStream instead.
 */
import { CkptError } from '../core/errors.js';
import { spawnGit } from '../git/exec.js';

interface Pending {
  oids: string[];
  /** Answers given so far. */
  done: number;
  each: (oid: string, obj: { type: string; content: Buffer } | null) => void;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One `cat-file --batch`, batches served in order. */
export class ObjectBatch {
  private readonly child: ReturnType<typeof spawnGit>;
  private buf: Buffer = Buffer.alloc(0);
  private readonly queue: Pending[] = [];
  private dead: Error | null = null;

  /** @param opts git's working directory and environment (selecting ckpt's store: shadowEnv). */
  constructor(opts: { cwd: string; env: Record<string, string | undefined> }) {
    this.child = spawnGit(['cat-file', '--batch'], opts);
    let stderr = '';
    this.child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-2000);
    });
    this.child.stdin.on('error', () => undefined);
    this.child.stdout.on('data', (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      this.drain();
    });
    const fail = (why: string): void => {
      if (this.dead) return;
      this.dead = new CkptError('GIT_FAILED', `git cat-file --batch ended: ${why} ${stderr.trim()}`.trim(), { data: { stderr } });
      for (const p of this.queue.splice(0)) p.reject(this.dead);
    };
    this.child.on('error', (err) => fail(err.message));
    this.child.on('close', (code, signal) => fail(`exit ${code ?? signal}`));
  }

  /**
   * Reads every object named (full ids) in one round trip, each answer
   * handed to `each` as it is parsed, in the order asked (null: git does not
   * have it), and nothing kept: `content` is a view into the bytes read from
   * git, valid only during the call (copy what you keep). The reader stores
   * what it keeps itself (a cache), so no copy of each object is made only
   * to be dropped.
   *
   * @throws CkptError `GIT_FAILED` when git ended; `INVALID_ARGUMENT` for an id that is not a full hex object id.
   */
  readEach(oids: readonly string[], each: (oid: string, obj: { type: string; content: Buffer } | null) => void): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    if (oids.length === 0) return Promise.resolve();
    for (const o of oids) if (!/^[0-9a-f]{40,64}$/.test(o)) return Promise.reject(new CkptError('INVALID_ARGUMENT', `bad object id ${JSON.stringify(o)}`));
    return new Promise((resolve, reject) => {
      this.queue.push({ oids: [...oids], done: 0, each, resolve, reject });
      this.child.stdin.write(oids.join('\n') + '\n');
    });
  }

  private drain(): void {
    for (;;) {
      const p = this.queue[0];
      if (!p) return;
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const header = this.buf.subarray(0, nl).toString('utf8');
      const parts = header.split(' ');
      const oid = p.oids[p.done]!;
      if (parts.length === 2 && parts[1] === 'missing') {
        this.buf = this.buf.subarray(nl + 1);
        p.done++;
        this.give(p, oid, null);
      } else {
        const size = Number(parts[2]);
        if (parts.length !== 3 || !Number.isSafeInteger(size)) {
          this.dead = new CkptError('GIT_FAILED', `unexpected header from git cat-file: ${JSON.stringify(header.slice(0, 200))}`);
          for (const q of this.queue.splice(0)) q.reject(this.dead);
          this.close();
          return;
        }
        if (this.buf.length < nl + 1 + size + 1) return;
        const content = this.buf.subarray(nl + 1, nl + 1 + size);
        this.buf = this.buf.subarray(nl + 1 + size + 1);
        p.done++;
        this.give(p, oid, { type: parts[1]!, content });
      }
      if (p.done === p.oids.length) {
        this.queue.shift();
        p.resolve();
      }
    }
  }

  /** One answer to its reader; a reader that throws fails its own batch, not the ones after it. */
  private give(p: Pending, oid: string, obj: { type: string; content: Buffer } | null): void {
    try {
      p.each(oid, obj);
    } catch (err) {
      p.each = () => undefined;
      p.reject(err as Error);
    }
  }

  /** Ends git. */
  close(): void {
    try {
      this.child.stdin.end();
    } catch {
      // already gone
    }
    this.child.kill('SIGKILL');
  }
}
