// One event source measured in a process of its own (so memory and inotify
// watches are its alone): `node event-source-worker.mjs <source> <dir>`,
// source = fswatch | parcel | chokidar | chokidar-poll. Prints one JSON line:
// ready (ms), RSS before and after (bytes), inotify watches (from
// /proc/self/fdinfo), write→event latency samples (ms), and how many of a
// burst of writes made with the event loop blocked were reported.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const [source, dir, burstArg = '20000'] = process.argv.slice(2);
const BURST = Number(burstArg);
const seen = new Map(); // absolute path -> time first seen (ms)
const waiters = new Map(); // absolute path -> resolve
const note = (abs) => {
  if (!seen.has(abs)) seen.set(abs, performance.now());
  const w = waiters.get(abs);
  if (w) {
    waiters.delete(abs);
    w();
  }
};
const skip = (rel) => rel === '.git' || rel.startsWith('.git/') || rel.split('/').some((p) => p === 'node_modules' || p === 'dist');

/** Inotify watches this process holds (one `inotify wd:` line each in /proc/self/fdinfo). */
function inotifyWatches() {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fdinfo')) {
    try {
      const text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      for (const line of text.split('\n')) if (line.startsWith('inotify wd:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

let lib = null;
if (source === 'parcel') lib = await import('@parcel/watcher');
if (source.startsWith('chokidar')) lib = await import('chokidar');
global.gc?.();
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
let stop = async () => {};
if (source === 'fswatch') {
  // Node's fs.watch on every directory, non-recursive (the daemon's source, src/watch/tree-watch.ts).
  const watchers = [];
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop();
    const abs = rel ? path.join(dir, rel) : dir;
    try {
      watchers.push(fs.watch(abs, { persistent: true }, (_t, name) => name && note(path.join(abs, name.toString()))));
    } catch {
      continue;
    }
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && !skip(child)) stack.push(child);
    }
  }
  stop = async () => watchers.forEach((w) => w.close());
} else if (source === 'parcel') {
  const sub = await lib.subscribe(dir, (err, events) => {
    if (!err) for (const e of events) note(e.path);
  }, { ignore: ['.git', 'node_modules', 'dist'] });
  stop = () => sub.unsubscribe();
} else {
  const w = lib.watch(dir, { ignoreInitial: true, ignored: (p) => skip(path.relative(dir, p)), usePolling: source === 'chokidar-poll', interval: 500, binaryInterval: 500 });
  w.on('all', (_ev, p) => note(path.resolve(dir, p)));
  await new Promise((r) => w.once('ready', r));
  stop = () => w.close();
}
const readyMs = performance.now() - t0;
global.gc?.();
const rssReady = process.memoryUsage().rss;
const watches = inotifyWatches();

// Latency: a write in a watched directory, until its event arrives (bounded).
const probeDir = path.join(dir, 'probe');
const latency = [];
for (let i = 0; i < 15; i++) {
  const f = path.join(probeDir, `p-${process.pid}-${i}.txt`);
  const got = new Promise((r) => waiters.set(f, r));
  const t = performance.now();
  fs.writeFileSync(f, `probe ${i}\n`);
  const timedOut = await Promise.race([got.then(() => false), new Promise((r) => setTimeout(() => r(true), 10_000))]);
  latency.push(timedOut ? null : seen.get(f) - t);
  await new Promise((r) => setTimeout(r, 20));
}

// Burst: BURST files written with the event loop blocked, then events drained until 2 s of quiet (at most 60 s).
const burstDir = path.join(dir, 'burst');
const burstFiles = [];
for (let i = 0; i < BURST; i++) burstFiles.push(path.join(burstDir, `b-${process.pid}-${i}.txt`));
for (const f of burstFiles) fs.writeFileSync(f, 'x');
const burstEnd = performance.now();
let last = seen.size;
let quietSince = performance.now();
while (performance.now() - quietSince < 2000 && performance.now() - burstEnd < 60_000) {
  await new Promise((r) => setTimeout(r, 100));
  if (seen.size !== last) {
    last = seen.size;
    quietSince = performance.now();
  }
}
const burstSeen = burstFiles.filter((f) => seen.has(f)).length;
const rssEnd = process.memoryUsage().rss;
await stop();
for (const f of burstFiles) fs.rmSync(f, { force: true });
for (const f of fs.readdirSync(probeDir)) if (f.startsWith(`p-${process.pid}-`)) fs.rmSync(path.join(probeDir, f), { force: true });
process.stdout.write(JSON.stringify({ source, readyMs, rssBefore, rssReady, rssEnd, watches, latency, burst: BURST, burstSeen }) + '\n');
process.exit(0);
