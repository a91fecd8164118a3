// The isomorphic-git side of the benchmark, run as its own long-lived Node
// process (forked by IsoWorker in iso-client.mjs, answering over IPC): its
// snapshot, restore and blob reads, timed here, in-process from its own
// point of view, with one cache object shared across calls.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as git from 'isomorphic-git';
import { gText, useHermeticGit } from './env.mjs';

/**
 * isomorphic-git cannot use another index file, so it gets its own gitdir
 * (`.git/bench-iso`): HEAD, config, refs and an index of its own, with
 * `objects` a symlink to the real object store (like ckpt's shadow git dir
 * with GIT_OBJECT_DIRECTORY). Its index is seeded with a copy of the user's
 * index (git writes index v2 with nanosecond stat data, which isomorphic-git
 * reads), so its stat cache is warm from the start, as ckpt's is.
 */
function isoContext(dir) {
  const gitdir = path.join(dir, '.git', 'bench-iso');
  if (!fs.existsSync(path.join(gitdir, 'index'))) {
    fs.mkdirSync(path.join(gitdir, 'refs', 'heads'), { recursive: true });
    fs.symlinkSync(path.join(dir, '.git', 'objects'), path.join(gitdir, 'objects'));
    fs.writeFileSync(path.join(gitdir, 'HEAD'), 'ref: refs/heads/bench\n');
    fs.writeFileSync(path.join(gitdir, 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfilemode = true\n');
    fs.copyFileSync(path.join(dir, '.git', 'index'), path.join(gitdir, 'index'));
  }
  return { fs, dir, gitdir, cache: {}, head: gText(dir, ['rev-parse', 'HEAD']) };
}

const ISO_AUTHOR = { name: 'bench', email: 'bench@localhost' };

/** statusMatrix against HEAD, stage what differs (add/remove) into the private index, commit on refs/heads/bench of the shadow gitdir. */
async function isoSnapshot(ctx) {
  const { fs: ifs, dir, gitdir, cache } = ctx;
  const matrix = await git.statusMatrix({ fs: ifs, dir, gitdir, cache, ref: ctx.head });
  const add = [];
  const remove = [];
  for (const [file, , w, s] of matrix) {
    if (w === 0) {
      if (s !== 0) remove.push(file);
    } else if (!((w === 1 && s === 1) || (w === 2 && s === 2))) add.push(file);
  }
  if (add.length > 0) await git.add({ fs: ifs, dir, gitdir, cache, filepath: add });
  for (const f of remove) await git.remove({ fs: ifs, dir, gitdir, cache, filepath: f });
  const oid = await git.commit({ fs: ifs, dir, gitdir, cache, message: 'snapshot', author: ISO_AUTHOR });
  return { oid, added: add.length, removed: remove.length };
}

/** Files that differ between two commits (walk of both trees, equal subtrees pruned), then checkout of those paths from `to`. */
async function isoRestore(ctx, fromCommit, toCommit) {
  const { fs: ifs, dir, gitdir, cache } = ctx;
  const changed = await git.walk({
    fs: ifs,
    dir,
    gitdir,
    cache,
    trees: [git.TREE({ ref: fromCommit }), git.TREE({ ref: toCommit })],
    map: async (filepath, [a, b]) => {
      if (filepath === '.') return undefined;
      if (a && b && (await a.oid()) === (await b.oid()) && (await a.mode()) === (await b.mode())) return null;
      const ta = a && (await a.type());
      const tb = b && (await b.type());
      if (ta === 'blob' || tb === 'blob') return filepath;
      return undefined;
    },
  });
  if (changed.length === 0) return 0;
  await git.checkout({ fs: ifs, dir, gitdir, cache, ref: toCommit, filepaths: changed, force: true, noUpdateHead: true });
  return changed.length;
}

function workerMain() {
  let ctx = null;
  const shared = new Map();
  const ops = {
    open: ({ dir }) => {
      ctx = isoContext(dir);
      return { gitdir: ctx.gitdir };
    },
    snapshot: () => isoSnapshot(ctx),
    restore: ({ from, to }) => isoRestore(ctx, from, to),
    readBlobs: async ({ gitdir, oids, fresh }) => {
      if (!fresh && !shared.has(gitdir)) shared.set(gitdir, {});
      const cache = fresh ? {} : shared.get(gitdir);
      let bytes = 0;
      for (const oid of oids) bytes += (await git.readBlob({ fs, gitdir, oid, cache })).blob.length;
      return bytes;
    },
    rss: () => process.memoryUsage().rss,
  };
  process.on('message', async ({ id, op, args }) => {
    try {
      const t0 = performance.now();
      const value = await ops[op](args);
      const ms = performance.now() - t0;
      // Collect now, untimed, before answering: left to itself V8 finishes a
      // large heap's GC on helper threads after the call, on the cores the
      // next method (ckpt or git) is being timed on.
      globalThis.gc?.();
      process.send({ id, ms, value });
    } catch (err) {
      process.send({ id, error: String(err?.stack ?? err) });
    }
  });
}

useHermeticGit();
workerMain();
