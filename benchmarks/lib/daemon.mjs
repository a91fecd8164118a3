// Method family "daemon" (issue 11): a snapshot of 10 changed files taken the
// way the daemon takes it (in process, from the known changed paths) beside
// the direct path (`git add -A` into the private index) in the same loop;
// then the daemon as a process: its ready time and memory, and the installed
// hook command served by it against bare Node with the same environment.
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { UNDER_TEST, chainTip, ckpt } from './ckpt.mjs';
import { WORK, assert, log, spawnTimed, step, timed } from './env.mjs';
import { median, mkRow, printRow } from './measure.mjs';
import { ensureRepo, Mutator, resetRepo } from './repo-gen.mjs';
import { agentHooks } from './hook.mjs';
import { bareNodeMemory, procMemory } from './procmem.mjs';

/** Targets of issue 11 (medians). */
export const DAEMON_TARGETS = { snapshot10Ms: 10, hookOverNodeMs: 20, memoryMB: 40, readyMs: 500 };

/**
 * One JSON-line request to the daemon of `commonDir` (protocol of src/watch/daemon-paths.ts). A
 * request naming the daemon's `version` (`0.1.0+p2`, from its `hello`) is sent with the protocol
 * that version names as `v`.
 */
export function ask(sockPath, msg, timeoutMs = 5000) {
  const protocol = typeof msg.version === 'string' ? /\+p(\d+)$/.exec(msg.version)?.[1] : undefined;
  if (protocol) msg = { v: Number(protocol), ...msg };
  return new Promise((resolve) => {
    const sock = net.connect(sockPath);
    let buf = '';
    const timer = setTimeout(() => done(null), timeoutMs);
    const done = (v) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    sock.on('connect', () => sock.write(JSON.stringify(msg) + '\n'));
    sock.setEncoding('utf8');
    sock.on('data', (c) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        try {
          done(JSON.parse(buf.slice(0, nl)));
        } catch {
          done(null);
        }
      }
    });
    sock.on('error', () => done(null));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for a daemon spawned at `t0` (performance.now(), ms) to be ready: its `hello` answered, then its
 * status showing its first worktree watched. Gives up once `exited()` says the process ended or after
 * `boundMs`. Returns its version, the ready time in ms since `t0` and that status, or null.
 */
export async function waitReady(sockPath, t0, exited, boundMs = 120_000) {
  let version = null;
  while (performance.now() - t0 < boundMs && !exited()) {
    const hello = await ask(sockPath, { cmd: 'hello' }, 1000);
    if (hello?.ok) version = hello.version;
    if (version) {
      const s = await ask(sockPath, { version, cmd: 'status' }, 5000);
      if (s?.ok && s.status.worktrees[0]?.watches > 0) return { version, readyMs: performance.now() - t0, status: s.status };
    }
    await sleep(5);
  }
  return version ? { version, readyMs: null, status: null } : null;
}

/**
 * The fsync a step cannot avoid: `n` new files of `bytes` each fsynced at
 * once (created beforehand, as the pool does); ms. A step fsyncs its pack,
 * the pack's index, its commit and its ref at once (4 files); the loose
 * layout it replaced fsynced ~42 objects, then the ref.
 */
async function fsyncAtOnce(n, bytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-fsync-'));
  try {
    const fds = [];
    for (let i = 0; i < n; i++) fds.push(fs.openSync(path.join(dir, `f${i}`), 'wx'));
    for (const fd of fds) fs.writeSync(fd, Buffer.alloc(bytes, 7));
    const t = performance.now();
    await Promise.all(fds.map((fd) => new Promise((r) => fs.fsync(fd, r))));
    const ms = performance.now() - t;
    for (const fd of fds) fs.closeSync(fd);
    return ms;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A module script importing what the CLI's `ckpt hook claude` (dist/cli.js `main`, the hook's path before dist/hook.cjs) loads on its way to the daemon: dist/cli.js and the chunk of its hook command (which imports the hook's client and the daemon's paths and client), found in dist/chunks by its name. */
function cliHookImports(cliUrl, chunksUrl) {
  const dir = new URL(chunksUrl).pathname;
  const files = fs.readdirSync(dir).filter((f) => /^hook-[A-Z0-9]+\.js$/.test(f));
  assert(files.length === 1, `not one hook command chunk in dist/chunks: ${files.join(', ')}`);
  return [cliUrl, ...files.map((f) => new URL(f, chunksUrl).href)].map((u) => `await import(${JSON.stringify(u)});`).join('');
}

/** RSS of a bare Node process (`node -e`), bytes: what any Node daemon starts from. */
function bareNodeRss() {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.memoryUsage().rss))'], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
  return Number(r.stdout);
}

/**
 * Bare Node's memory (RSS, PSS, USS in MB, /proc smaps_rollup), plain and
 * with the daemon's own Node options: what the daemon's rows are compared with.
 */
function memoryBaseline() {
  return { bare: bareNodeMemory(), bareFlags: bareNodeMemory(ckpt.DAEMON_NODE_OPTIONS), nodeOptions: [...ckpt.DAEMON_NODE_OPTIONS] };
}

/** The daemon family for one size: rows, plus the daemon's ready time and memory. */
export async function benchDaemon(label, { quick }) {
  const iters = quick ? 5 : label === '100k' ? 9 : 15;
  log(`\n== daemon, ${label} files ==`);
  const { dir, manifest } = ensureRepo(label);
  resetRepo(dir, manifest);
  const mut = new Mutator(dir, manifest);
  const repo = await ckpt.openRepo(dir);
  const first = await timed(() => ckpt.takeSnapshot(repo, { kind: 'manual', force: true }));
  step(`first snapshot (direct path, private index seeded): ${first.ms.toFixed(0)} ms`);
  const rows = [];
  const kase = `snapshot, 10 files changed (${label})`;

  // 1. In process, from the changed paths, beside the direct path, interleaved.
  // As the daemon runs it: one context, temporary object files created ahead (git/temp-pool.ts), the trees read ahead.
  const ctxOpen = await timed(() => ckpt.IncrementalContext.open(repo));
  const ctx = ctxOpen.value;
  const pool = ckpt.TempPool.open(repo);
  await pool.refill(true);
  {
    const [tip0] = await ckpt.listSteps(repo, { limit: 1, stats: false });
    await ctx.preload(tip0.tree);
  }
  const inProcess = [];
  const stepOnly = [];
  const treeOnly = [];
  const direct = [];
  const fsyncOnly = [];
  const fsyncLoose = [];
  try {
    for (let i = 0; i < iters; i++) {
      let idx = mut.mutate(10);
      let paths = idx.map((k) => manifest.files[k]);
      await pool.refill(false); // the daemon refills between steps, off the step's path
      const r = await timed(() => ckpt.takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, paths));
      assert(r.value.fullRead === null, `the in-process read fell back: ${r.value.fullRead}`);
      inProcess.push(r.ms);
      // The step as issue 11 defines it (blobs, trees on their paths, commit, ref), without the
      // worktree lock around it: nothing else runs here, and the lock's own cost is the difference.
      idx = mut.mutate(10);
      paths = idx.map((k) => manifest.files[k]);
      await pool.refill(false);
      const s = await timed(() => ckpt.takeSnapshotOfChangesLocked(repo, { kind: 'auto', force: true }, ctx, paths));
      assert(s.value.fullRead === null, `the in-process read fell back: ${s.value.fullRead}`);
      stepOnly.push(s.ms);
      idx = mut.mutate(10);
      paths = idx.map((k) => manifest.files[k]);
      const [tip] = await ckpt.listSteps(repo, { limit: 1, stats: false });
      const t = await timed(() => ckpt.treeWithChanges(ctx, tip, paths));
      assert(!('unsure' in t.value), 'the tree-only read fell back');
      treeOnly.push(t.ms);
      direct.push((await timed(() => ckpt.takeSnapshot(repo, { kind: 'auto', force: true }))).ms);
      fsyncOnly.push(await fsyncAtOnce(4, 8000));
      fsyncLoose.push(await fsyncAtOnce(43, 300));
      // As the daemon does after a step, off its path: the step packs folded once there are enough (git/pack-fold.ts).
      await ckpt.foldPacks(repo);
    }
    // The last in-process tree equals git's own (the direct snapshot just read the same worktree).
    const [tip] = await ckpt.listSteps(repo, { limit: 1, stats: false });
    const again = await ckpt.treeWithChanges(ctx, tip, manifest.files.slice(0, 50));
    assert(again.tree === tip.tree, 'the in-process tree differs from git add -A');
  } finally {
    ctx.close();
    await pool.refill(false);
    pool.close();
  }
  rows.push(mkRow(kase, 'daemon path: in process from the changed paths (blobs, trees, commit, ref; objects and ref fsynced)', 'daemon-snapshot', inProcess));
  rows.push(mkRow(kase, 'the step alone (issue 11\'s definition): the same without the worktree lock around it', 'daemon-step', stepOnly));
  rows.push(mkRow(kase, 'daemon path: the tree only (blobs and trees written, no commit, no ref)', 'daemon-tree', treeOnly));
  rows.push(mkRow(kase, 'direct path: takeSnapshot (git add -A + write-tree into the private index)', 'direct-snapshot', direct, `context opened once in ${ctxOpen.ms.toFixed(0)} ms`));
  rows.push(mkRow(kase, 'floor: fsync of 4 new files at once (a step\'s pack, its index, its commit, its ref), nothing else', 'fsync-floor', fsyncOnly));
  rows.push(mkRow(kase, 'the loose layout\'s floor (before steps wrote packs): fsync of 43 new small files at once (~42 objects and the ref)', 'fsync-floor-loose', fsyncLoose));

  // 2. The daemon process: ready time, memory.
  const bin = path.join(UNDER_TEST, 'bin', 'ckpt.js');
  const sockPath = path.join(repo.commonDir, 'ckpt', 'daemon', 'sock');
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const t0 = performance.now();
  // Started as the product starts it (watch/daemon-control.ts: Node's options for the daemon, then `daemon run`).
  // With the environment the product gives it (watch/daemon-control.ts daemonEnv; older versions: this one's).
  const child = spawn(process.execPath, ckpt.daemonArgv(bin, ['--verify', '1h', '--idle', '30m']), { cwd: dir, stdio: 'ignore', env: ckpt.daemonEnv ? ckpt.daemonEnv(env) : env });
  let exited = false;
  child.on('exit', () => (exited = true));
  let version = null;
  const out = { label, rows, readyMs: null, rssMB: null, rssAfterMB: null, watches: null, bareMB: bareNodeRss() / 1e6, ...memoryBaseline() };
  try {
    const ready = await waitReady(sockPath, t0, () => exited);
    version = ready?.version ?? null;
    const readyMs = ready?.readyMs ?? null;
    const status = ready?.status;
    assert(readyMs !== null, 'the daemon did not become ready');
    out.readyMs = readyMs;
    out.rssMB = status.rssBytes / 1e6;
    out.memReady = procMemory(child.pid);
    out.watches = status.worktrees[0].watches;
    step(`daemon ready (Node start, lock, socket, ${out.watches} directories watched) in ${readyMs.toFixed(0)} ms; RSS ${out.rssMB.toFixed(1)} MB`);

    // 3. The installed hook command (as `ckpt hooks install claude` writes it: bin/ckpt-hook.cjs, the tiny
    // entry), served by the daemon, vs bare Node (same environment: the command clears NODE_EXTRA_CA_CERTS),
    // beside the CLI's own `ckpt hook claude` (dist/cli.js main, the installed hook's path before the entry).
    const installed = ckpt.claudeHookCommand(bin, process.execPath);
    assert(/ckpt-hook\.cjs claude$/.test(installed), `the installed hook command is not the hook entry: ${installed}`);
    const hookEnv = { CKPT_DAEMON: '1', CKPT_DAEMON_AUTOSTART: '0' };
    const hookKase = `hook via the daemon, 10 files changed (${label})`;
    const hook = [];
    const viaCli = [];
    const floor = [];
    const answer = [];
    // Where the answer went inside the daemon (its reply's phases, ms): the part before the step is what the step alone does not pay.
    const phases = { state: [], lock: [], sync: [], step: [], total: [] };
    const load = [];
    const cliLoad = [];
    const cliUrl = new URL(`file://${path.join(UNDER_TEST, 'dist', 'cli.js')}`).href;
    const entryPath = path.join(UNDER_TEST, 'dist', 'hook.cjs');
    const chunksUrl = new URL(`file://${path.join(UNDER_TEST, 'dist', 'chunks')}/`).href;
    const cliHookScript = path.join(WORK, 'cli-hook.mjs');
    fs.writeFileSync(cliHookScript, `import { main } from ${JSON.stringify(cliUrl)};\nawait main(['hook', 'claude'], { program: 'ckpt' });\n`);
    const cliHook = `NODE_EXTRA_CA_CERTS= ${process.execPath} ${cliHookScript}`;
    // Every hook sent to the daemon, in time order, PreToolUse and PostToolUse taking turns, as an agent sends them.
    const nextHook = agentHooks(dir, 'd');
    // One hook first: the daemon's first snapshot is a full read (it has just started).
    mut.mutate(10);
    spawnTimed([], { cwd: dir, shell: installed, input: nextHook(manifest.files[0]), env: hookEnv });
    // A hook served, with 10 files changed before it, timed into `into`.
    const timedHook = async (shell, into) => {
      const idx = mut.mutate(10);
      const before = await chainTip(repo);
      into.push(spawnTimed([], { cwd: dir, shell, input: nextHook(manifest.files[idx[0]]), env: hookEnv }).ms);
      assert((await chainTip(repo)) !== before, `the hook recorded no snapshot: ${shell}`);
    };
    for (let i = 0; i < iters; i++) {
      // The two hook commands and the two module loads take turns at going first: what follows the
      // daemon's work would pay for whatever the daemon still does once it has answered. The hooks
      // swap every second iteration: with three hooks an iteration, each command then gets PreToolUse
      // and PostToolUse alike.
      const hooks = [() => timedHook(installed, hook), () => timedHook(cliHook, viaCli)];
      for (const h of Math.floor(i / 2) % 2 ? hooks.reverse() : hooks) await h();
      floor.push(spawnTimed(['-e', '0'], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: undefined } }).ms);
      // The daemon's part alone: the same request from this (long-lived) process, 10 other files changed.
      const idx2 = mut.mutate(10);
      const before2 = await chainTip(repo);
      const t = performance.now();
      const r = await ask(sockPath, { version, cmd: 'hook', agent: 'claude', stdin: nextHook(manifest.files[idx2[0]]), cwd: dir, ppid: process.pid, race: {} }, 30_000);
      answer.push(performance.now() - t);
      if (r?.phases) for (const k of Object.keys(phases)) if (typeof r.phases[k] === 'number') phases[k].push(r.phases[k]);
      assert(r?.ok && (await chainTip(repo)) !== before2, `the daemon recorded no snapshot: ${JSON.stringify(r)}`);
      // The client's module loading alone, nothing run: the hook entry (one CommonJS file, as its bin requires it), and the CLI's hook path.
      const loads = [
        () => load.push(spawnTimed(['-e', `require(${JSON.stringify(entryPath)});`], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: undefined } }).ms),
        () => cliLoad.push(spawnTimed(['--input-type=module', '-e', cliHookImports(cliUrl, chunksUrl)], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: undefined } }).ms),
      ];
      for (const l of i % 2 ? loads.reverse() : loads) l();
    }
    const after = await ask(sockPath, { version, cmd: 'status' }, 5000);
    const w = after.status.worktrees[0];
    out.rssAfterMB = after.status.rssBytes / 1e6;
    out.memAfter = procMemory(child.pid);
    // Quiet after work, the daemon compacts its heap (watch/daemon-heap.ts): what it holds while it watches.
    await sleep(2500);
    out.memQuiet = procMemory(child.pid);
    out.served = { snapshots: w.snapshots, incremental: w.incremental, rescans: w.rescans };
    assert(w.incremental >= iters, `the daemon read only ${w.incremental} of ${w.snapshots} snapshots in process: ${JSON.stringify(w.rescans)}`);
    rows.push(mkRow(hookKase, 'the installed hook command via sh -c, CKPT_DAEMON=1, served by the daemon', 'daemon-hook', hook));
    rows.push(mkRow(hookKase, 'node -e 0 with NODE_EXTRA_CA_CERTS unset (the same environment)', 'node-floor-noca', floor));
    rows.push(mkRow(hookKase, "the daemon's answer alone: the same hook request from a long-lived process (sync cookie, lock, agent state, snapshot, reply)", 'daemon-answer', answer));
    const phaseRows = [
      ['total', "inside the daemon: the request parsed to its reply (the answer less the socket's round trip and JSON)"],
      ['state', 'inside the daemon: the payload parsed, the repository opened, the agent state recorded'],
      ['lock', 'inside the daemon: waiting for the worktree lock (and any batch before its own)'],
      ['sync', "inside the daemon: the sync cookie's round trip through the watcher"],
      ['step', 'inside the daemon: the step, from the sync point to its reply'],
    ];
    for (const [k, what] of phaseRows) if (phases[k].length > 0) rows.push(mkRow(hookKase, what, `daemon-answer-${k}`, phases[k]));
    rows.push(mkRow(hookKase, 'node requiring the hook entry alone (dist/hook.cjs, one CommonJS file: all the daemon path loads), nothing run', 'client-load', load));
    rows.push(mkRow(hookKase, "the CLI's `ckpt hook claude` via sh -c (dist/cli.js main: the installed hook's path before the entry), served by the daemon", 'cli-hook', viaCli));
    rows.push(mkRow(hookKase, "node importing the CLI's hook path (dist/cli.js and the chunks of its daemon path), nothing run", 'cli-load', cliLoad));
    step(`daemon after the hooks: RSS ${out.rssAfterMB.toFixed(1)} MB, ${w.incremental} of ${w.snapshots} snapshots in process`);
  } finally {
    if (version) await ask(sockPath, { cmd: 'stop' }, 3000);
    for (let i = 0; i < 200 && !exited; i++) await sleep(25);
    if (!exited) child.kill('SIGKILL');
  }
  for (const r of rows) printRow(r);
  const med = (key) => median(rows.find((r) => r.key === key).samples);
  out.targets = {
    snapshot10: { value: med('daemon-step'), target: DAEMON_TARGETS.snapshot10Ms },
    hook: { value: med('daemon-hook') - med('node-floor-noca'), target: DAEMON_TARGETS.hookOverNodeMs },
    memory: { value: out.memAfter?.uss ?? NaN, target: DAEMON_TARGETS.memoryMB },
    memoryRss: { value: out.rssAfterMB, target: DAEMON_TARGETS.memoryMB },
    ready: { value: out.readyMs, target: DAEMON_TARGETS.readyMs },
  };
  resetRepo(dir, manifest);
  fs.rmSync(path.join(repo.commonDir, 'ckpt'), { recursive: true, force: true });
  return out;
}
