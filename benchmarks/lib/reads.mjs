// Method family "object reads": K blobs (packed or loose) through one
// `git cat-file --batch` process vs isomorphic-git's readBlob with a fresh or
// a shared cache.
import path from 'node:path';
import { assert, g, gText, rng32 } from './env.mjs';
import { measure } from './measure.mjs';

/** Reads blobs through one `git cat-file --batch` vs isomorphic-git readBlob (fresh cache = as in a new process, shared cache = long-lived process). */
export async function benchReads(s) {
  const { dir, manifest, mut, iso } = s;
  const iters = s.plan.reads;
  const headBlobs = [];
  for (const line of g(dir, ['ls-tree', '-r', '-z', 'HEAD']).toString('utf8').split('\0')) {
    const m = /^100644 blob ([0-9a-f]{40})\t/.exec(line);
    if (m) headBlobs.push(m[1]);
  }
  const r = rng32(42);
  const choose = (arr, k) => Array.from({ length: k }, () => arr[Math.floor(r() * arr.length)]);
  // Loose blobs, as ckpt's own snapshots leave them: hash 200 edited files with -w.
  const idx = mut.mutate(200);
  const loose = gText(dir, ['hash-object', '-w', '--stdin-paths'], { input: idx.map((i) => manifest.files[i]).join('\n') + '\n' }).split('\n').filter(Boolean);
  mut.restore();
  const sets = [
    ['packed', 10, choose(headBlobs, 10)],
    ['packed', 200, choose(headBlobs, 200)],
    ['loose', 10, loose.slice(0, 10)],
    ['loose', 200, loose.slice(0, 200)],
  ];
  const gitdir = path.join(dir, '.git');
  const rows = [];
  for (const [where, k, oids] of sets) {
    const methods = [
      {
        key: 'cat-file',
        name: 'git cat-file --batch (one process)',
        prepare: () => oids,
        run: (o) => {
          const outBuf = g(dir, ['cat-file', '--batch'], { input: o.join('\n') + '\n' });
          let pos = 0;
          let count = 0;
          while (pos < outBuf.length) {
            const nl = outBuf.indexOf(10, pos);
            const size = Number(outBuf.toString('latin1', pos, nl).split(' ')[2]);
            pos = nl + 1 + size + 1;
            count++;
          }
          return count;
        },
        check: (o, v) => assert(v === o.length, 'cat-file returned too few objects'),
      },
    ];
    if (iso) {
      methods.push(
        { key: 'iso-cold', name: 'isomorphic-git readBlob, fresh cache', prepare: () => oids, runTimed: (o) => iso.call('readBlobs', { gitdir, oids: o, fresh: true }) },
        { key: 'iso-warm', name: 'isomorphic-git readBlob, shared cache', prepare: async () => { await iso.call('readBlobs', { gitdir, oids: oids.slice(0, 1), fresh: false }); return oids; }, runTimed: (o) => iso.call('readBlobs', { gitdir, oids: o, fresh: false }) },
      );
    }
    rows.push(...(await measure(`read ${k} ${where} blobs`, methods, iters, 30_000)));
  }
  return rows;
}
