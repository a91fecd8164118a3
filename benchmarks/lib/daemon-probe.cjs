// Loaded into the daemon by benchmarks/daemon-mem.mjs (`node -r`), it answers
// signals with what V8 and /proc say about the daemon's memory, written as
// JSON into CKPT_PROBE_DIR:
//   SIGWINCH  heap spaces, process.memoryUsage(), USS          (stats-<pid>-<n>-plain.json)
//   SIGURG    the same, then gc() (with --expose-gc), the same  (…-beforegc / …-aftergc)
//   SIGPWR    every collection seen so far: [ms, kind, duration] (gc-<pid>.json; kind 1 scavenge, 4 mark-compact, 8 incremental)
//   SIGTTIN / SIGTTOU  start / stop V8's sampling heap profiler, collected objects included (alloc-<pid>.json)
const v8 = require('v8');
const fs = require('fs');
const path = require('path');
const inspector = require('inspector');
const { PerformanceObserver } = require('perf_hooks');

const dir = process.env.CKPT_PROBE_DIR;
let n = 0;
function dump(tag) {
  const sp = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
  const t = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (k) => Number(t.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))[1]);
  fs.writeFileSync(path.join(dir, `stats-${process.pid}-${n++}-${tag}.json`), JSON.stringify({ ussKB: kb('Private_Clean') + kb('Private_Dirty'), memoryUsage: process.memoryUsage(), spaces: sp }, null, 1));
}
process.on('SIGWINCH', () => dump('plain'));
process.on('SIGURG', () => {
  dump('beforegc');
  if (global.gc) global.gc();
  setTimeout(() => dump('aftergc'), 100);
});
const gcs = [];
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) gcs.push([Math.round(e.startTime), e.detail?.kind, Number(e.duration.toFixed(1))]);
}).observe({ entryTypes: ['gc'] });
process.on('SIGPWR', () => fs.writeFileSync(path.join(dir, `gc-${process.pid}.json`), JSON.stringify(gcs)));
const session = new inspector.Session();
session.connect();
process.on('SIGTTIN', () => session.post('HeapProfiler.enable', () => session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true })));
process.on('SIGTTOU', () => session.post('HeapProfiler.stopSampling', (e, r) => fs.writeFileSync(path.join(dir, `alloc-${process.pid}.json`), JSON.stringify(e ? { error: e.message } : r.profile))));
