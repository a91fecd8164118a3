// Memory of processes read from /proc (Linux): RSS, PSS and USS of one
// process from its smaps_rollup, the process tree below a pid, and bare
// Node's own figures. RSS counts every page a process maps, the node
// binary's (~34 MB here, shared by every Node process) included; PSS splits
// each shared page among the processes that map it, so PSS sums over
// processes without counting a shared page twice; USS (private pages) is
// what the process alone holds: what its end frees.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** `{ rss, pss, uss }` of `pid` in MB (10^6 bytes), or null when it is gone or unreadable. */
export function procMemory(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return null;
  }
  const kb = (k) => Number(text.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
  return { rss: (kb('Rss') * 1024) / 1e6, pss: (kb('Pss') * 1024) / 1e6, uss: ((kb('Private_Clean') + kb('Private_Dirty')) * 1024) / 1e6 };
}

/** Every process, as `{ pid, ppid, cmd }` (cmd: its argv joined by spaces). */
export function processes() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      out.push({ pid: Number(d), ppid, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The pids of `roots` and of every process below them. */
export function treeOf(roots, procs = processes()) {
  const kids = new Map();
  for (const p of procs) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p]);
  const seen = new Set();
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    for (const k of kids.get(pid) ?? []) stack.push(k.pid);
  }
  return procs.filter((p) => seen.has(p.pid));
}

/** A bare Node process's own `{ rss, pss, uss }` in MB, started with `nodeOptions` (`node OPTIONS -e`), read by itself. */
export function bareNodeMemory(nodeOptions = []) {
  const script = "const t=require('fs').readFileSync('/proc/self/smaps_rollup','utf8');const kb=(k)=>Number(t.match(new RegExp('^'+k+':\\\\s+(\\\\d+) kB','m'))[1]);process.stdout.write(JSON.stringify({rss:kb('Rss')*1024/1e6,pss:kb('Pss')*1024/1e6,uss:(kb('Private_Clean')+kb('Private_Dirty'))*1024/1e6}))";
  const r = spawnSync(process.execPath, [...nodeOptions, '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
  return JSON.parse(r.stdout);
}
