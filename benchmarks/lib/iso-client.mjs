// The benchmark's handle on the isomorphic-git worker process (iso-worker.mjs).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./iso-worker.mjs', import.meta.url));

/**
 * isomorphic-git runs in a separate, long-lived Node process (in-process
 * from its own point of view: timings are taken inside it, with a cache
 * object shared across calls). Keeping its caches (a whole packfile, parsed
 * indexes) out of this process matters: Linux fork() cost grows with the
 * parent's memory, and ckpt and the git alternatives spawn git from here.
 */
export class IsoWorker {
  constructor() {
    this.child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: process.env, execArgv: ['--expose-gc'] });
    this.next = 0;
    this.pending = new Map();
    this.child.on('message', (m) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve({ ms: m.ms, value: m.value });
    });
    this.child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`isomorphic-git worker exited with ${code}`));
      this.pending.clear();
    });
  }
  /**
   * Runs `op` in the worker; resolves to { ms (measured in the worker), value }
   * once the worker has collected its garbage and had 100 ms to settle, so
   * that nothing of it runs while the next method is timed.
   */
  async call(op, args = {}) {
    const id = ++this.next;
    const res = await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, op, args });
    });
    await new Promise((r) => setTimeout(r, 100));
    return res;
  }
  close() {
    if (this.child.connected) this.child.disconnect();
  }
  kill() {
    this.child.kill('SIGKILL');
  }
}
