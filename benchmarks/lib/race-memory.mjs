// Method family "race memory" (issue 11): a race of 5 attempts on the 10k
// repository, each a scripted Claude Code client (race-agent.mjs: 5 tool
// calls of 10 files, each with its PreToolUse and PostToolUse hook, as
// installed), every attempt watched by the repository's one daemon. While it
// runs, /proc is sampled: the memory of every ckpt process together (the race
// process, the daemon, each hook's process, and the git, sh and setpriv
// processes they start; not the agents), peak and at the end.
//
// For finding where the memory is: CKPT_RACE_TRACE=FILE appends every sample
// as one JSON line (each process's pid, parent, kind, command line, PSS and
// USS), and CKPT_RACE_NODE_ARGS='--flag …' starts the race's Node with those
// options (`--import FILE` to sample its heap from inside, say).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { UNDER_TEST, ckpt } from './ckpt.mjs';
import { WORK, assert, g, log, step } from './env.mjs';
import { procMemory, processes } from './procmem.mjs';
import { ensureRepo } from './repo-gen.mjs';

/** Issue 11's target: all of ckpt's processes together, MB. */
export const RACE_MEMORY_TARGET_MB = 100;
const ATTEMPTS = 5;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * ckpt's processes among `procs`: a Node process running the code under
 * test, or any other (git, sh, setpriv) whose nearest Node ancestor is one.
 * An agent (race-agent.mjs) and what it starts itself are not ckpt's, but a
 * hook it starts is.
 */
function ckptProcesses(procs) {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const isNode = (p) => /(^|\/)node(\s|$)/.test(p.cmd.split(' ')[0] ?? '');
  const isCkpt = (p) => isNode(p) && p.cmd.includes(UNDER_TEST) && !p.cmd.includes('race-agent.mjs');
  return procs.filter((p) => {
    if (isNode(p)) return isCkpt(p);
    for (let q = byPid.get(p.ppid); q; q = byPid.get(q.ppid)) if (isNode(q)) return isCkpt(q);
    return false;
  });
}

/** Which of ckpt's processes `p` is: the race process, the daemon (or a `daemon run` not yet named by daemon.json), a hook, another ckpt process, or a child (git, sh, setpriv) of one. */
function kindOf(p, daemonPid) {
  if (p.pid === daemonPid) return 'daemon';
  // A daemon before its record names it (its first walk), or one that lost the lock to it.
  if (/ daemon run( |$)/.test(p.cmd)) return 'daemon (unrecorded)';
  if (!p.cmd.includes(UNDER_TEST)) return 'children';
  if (/bin\/race\.js/.test(p.cmd)) return 'race';
  if (/ckpt-hook\.c?js| hook /.test(p.cmd)) return 'hooks';
  return 'other';
}

/** One sample: `{ rss, pss, uss, n }` summed over ckpt's processes (MB), the PSS of each kind (kindOf), and the daemon's own. */
function sample(daemonPid, trace) {
  const sum = { rss: 0, pss: 0, uss: 0, n: 0 };
  const kinds = {};
  let daemon = null;
  const each = [];
  for (const p of ckptProcesses(processes())) {
    const m = procMemory(p.pid);
    if (!m) continue;
    if (trace) each.push({ pid: p.pid, ppid: p.ppid, kind: kindOf(p, daemonPid), cmd: p.cmd.slice(0, 160), pss: +m.pss.toFixed(2), uss: +m.uss.toFixed(2) });
    sum.rss += m.rss;
    sum.pss += m.pss;
    sum.uss += m.uss;
    sum.n++;
    const k = kindOf(p, daemonPid);
    kinds[k] = (kinds[k] ?? 0) + m.pss;
    if (p.pid === daemonPid) daemon = m;
  }
  if (trace) fs.appendFileSync(trace, JSON.stringify({ t: Math.round(performance.now()), pss: +sum.pss.toFixed(2), each }) + '\n');
  return { ...sum, kinds, daemon };
}

/** The race of 5 attempts at 10k files; returns the peak and final sums, and how the race went. */
export async function benchRaceMemory({ quick } = {}) {
  log(`\n== race memory: ${ATTEMPTS} attempts, 10k files ==`);
  const { dir: source } = ensureRepo('10k');
  const scratch = path.join(WORK, 'tmp', `race-memory-${process.pid}`);
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  const dir = path.join(scratch, 'repo');
  const bin = path.join(UNDER_TEST, 'bin', 'ckpt.js');
  const env = { ...process.env, CKPT_DAEMON: '1', NO_COLOR: '1' };
  delete env.NODE_EXTRA_CA_CERTS;
  let daemonPid = null;
  try {
    g(scratch, ['clone', '-q', '--no-hardlinks', source, dir]);
    // The script itself as the program (its shebang runs Node): ckpt puts the hook settings (--settings FILE) after the program.
    const agent = { command: [path.join(path.dirname(new URL(import.meta.url).pathname), 'race-agent.mjs'), '{task}'], output: 'none' };
    fs.mkdirSync(path.join(dir, '.ckpt'), { recursive: true });
    fs.writeFileSync(path.join(dir, '.ckpt', 'config.json'), JSON.stringify({ agents: { claude: agent }, race: { worktreeDir: path.join(scratch, 'worktrees') } }, null, 2));
    g(dir, ['add', '.ckpt/config.json']);
    g(dir, ['commit', '-q', '-m', 'race config']);
    const commonDir = path.join(dir, '.git');
    const record = path.join(commonDir, 'ckpt', 'daemon', 'daemon.json');
    const t0 = performance.now();
    const race = spawn(process.execPath, [...(process.env.CKPT_RACE_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(UNDER_TEST, 'bin', 'race.js'), 'run', 'edit files', '--models', `claude:${ATTEMPTS}`, '--deps', 'none', '--json'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    race.stdout.on('data', (c) => (stdout += c));
    race.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise((resolve) => race.on('close', (code) => resolve(code)));
    let code = null;
    exited.then((c) => (code = c));
    const peak = { rss: 0, pss: 0, uss: 0, n: 0, daemonUss: 0, kinds: {}, kindsMax: {} };
    let samples = 0;
    while (code === null && performance.now() - t0 < 600_000) {
      if (daemonPid === null && fs.existsSync(record)) {
        try {
          daemonPid = JSON.parse(fs.readFileSync(record, 'utf8')).pid;
        } catch {
          // half-written: next time
        }
      }
      const s = sample(daemonPid, process.env.CKPT_RACE_TRACE);
      samples++;
      // The kinds at the moment of the PSS peak (what it is made of).
      if (s.pss > peak.pss) peak.kinds = s.kinds;
      // Each kind's own peak (the race process's, the hooks' together), whenever it falls.
      for (const [k, v] of Object.entries(s.kinds)) peak.kindsMax[k] = Math.max(peak.kindsMax[k] ?? 0, v);
      for (const k of ['rss', 'pss', 'uss', 'n']) peak[k] = Math.max(peak[k], s[k]);
      if (s.daemon) peak.daemonUss = Math.max(peak.daemonUss, s.daemon.uss);
      await sleep(quick ? 100 : 50);
    }
    await exited;
    const raceMs = performance.now() - t0;
    assert(code === 0, `the race failed (${code}): ${stderr.slice(-2000)}`);
    const rec = JSON.parse(stdout);
    const states = rec.attempts.map((a) => a.state);
    const final = sample(daemonPid);
    // Every tool call of every attempt has its pair, served by the daemon.
    const status = await ckpt.daemonStatus(await ckpt.openRepo(dir));
    const worktrees = status.status?.worktrees ?? [];
    const steps = [];
    for (const a of rec.attempts) {
      const list = await ckpt.listSteps(await ckpt.openRepo(a.dir), { stats: false });
      steps.push(list.filter((x) => x.kind === 'before' || x.kind === 'after').length);
    }
    const tail = (a) => (fs.existsSync(a.log) ? fs.readFileSync(a.log, 'utf8').slice(-1500) : '(no log)');
    assert(steps.every((n) => n === 10), `hook steps per attempt: ${steps.join(', ')} (10 each expected); the first attempt's log: ${tail(rec.attempts[0])}`);
    step(`race of ${ATTEMPTS} attempts in ${(raceMs / 1000).toFixed(1)} s (${states.join(', ')}), ${samples} samples: peak over ckpt's processes PSS ${peak.pss.toFixed(1)} MB, USS ${peak.uss.toFixed(1)} MB, RSS ${peak.rss.toFixed(1)} MB (${peak.n} processes at most); at the end PSS ${final.pss.toFixed(1)} MB (${final.n} process(es))`);
    return { attempts: ATTEMPTS, raceMs, samples, peak, final, states, hookSteps: steps, daemonWorktrees: worktrees.length, incremental: worktrees.reduce((a, w) => a + w.incremental, 0), snapshots: worktrees.reduce((a, w) => a + w.snapshots, 0) };
  } finally {
    if (fs.existsSync(dir)) {
      spawn(process.execPath, [bin, 'daemon', 'stop'], { cwd: dir, stdio: 'ignore', env });
      for (let i = 0; i < 200 && daemonPid && alive(daemonPid); i++) await sleep(50);
      if (daemonPid && alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
    }
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The family's lines for results.md. */
export function raceMemoryReport(r) {
  if (!r) return [];
  const f = (x) => x.toFixed(1);
  const met = r.peak.pss <= RACE_MEMORY_TARGET_MB ? 'met' : '**not met**';
  return [
    '| case | reading | peak | at the end |',
    '|---|---|---:|---:|',
    `| race of ${r.attempts} attempts at 10k files, all of ckpt's processes (race, daemon, hooks, their git) | PSS summed | ${f(r.peak.pss)} MB | ${f(r.final.pss)} MB |`,
    `| 〃 | USS summed | ${f(r.peak.uss)} MB | ${f(r.final.uss)} MB |`,
    `| 〃 | RSS summed (shared pages counted once per process) | ${f(r.peak.rss)} MB | ${f(r.final.rss)} MB |`,
    `| 〃 | processes | ${r.peak.n} | ${r.final.n} |`,
    '',
    `| size | target | value | |`,
    '|---|---|---:|---|',
    `| 10k | a race of ${r.attempts} attempts ≤ ${RACE_MEMORY_TARGET_MB} MB for all of ckpt's processes together, judged on their PSS summed at its peak | ${f(r.peak.pss)} MB | ${met} |`,
    '',
    `The race: ${r.attempts} scripted Claude Code clients (benchmarks/lib/race-agent.mjs), each 5 tool calls of 10 files with the installed hooks, ${(r.raceMs / 1000).toFixed(1)} s, attempts ${r.states.join(', ')}; ${r.hookSteps.join(', ')} hook steps per attempt; the daemon watched ${r.daemonWorktrees} worktrees and took ${r.incremental} of ${r.snapshots} snapshots in process; the daemon's own USS at most ${f(r.peak.daemonUss)} MB. At the PSS peak: ${Object.entries(r.peak.kinds).map(([k, v]) => `${k} ${f(v)} MB`).join(', ')} (children: the git, sh and setpriv processes ckpt starts); each kind at its own peak: ${Object.entries(r.peak.kindsMax).map(([k, v]) => `${k} ${f(v)} MB`).join(', ')}. Sampled from /proc every 50 ms (${r.samples} samples), so a hook process shorter than that may be missed. Judged on PSS: a sum of RSS counts the node binary's shared pages (~34 MB) once per Node process; PSS splits each shared page among the processes that map it, so the sum counts it once.`,
  ];
}
