/**
 * ckpt's git children end with ckpt (SIGTERM from an agent's hook timeout,
 * SIGKILL), and a private index naming objects the store lost is rebuilt,
 * never trusted: real processes, real git.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitCommandLine } from '../src/git/exec.js';
import { captureTree, listSteps, openRepo, takeSnapshot } from '../src/index.js';
import { hashedPicture } from './support/files.js';
import { CLI, git, indexBytes, makeRepo, picture, storeGit, tempDir, userRefs, write } from './support/repo.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pids of the running processes whose parent is `ppid` and whose command is `comm`. */
function childrenNamed(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (stat.slice(stat.indexOf('(') + 1, close) === comm && Number(fields[1]) === ppid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * A repository where `git add` runs for minutes: the user tracks a 64 GiB
 * sparse file (entered in the user's index without hashing it), which a
 * snapshot must read in full.
 */
function slowRepo(): string {
  const dir = makeRepo({ 'README.md': '# slow\n' });
  const empty = git(dir, 'hash-object', '-w', '/dev/null').trim();
  spawnSync('truncate', ['-s', '64G', path.join(dir, 'huge.bin')]);
  git(dir, 'update-index', '--add', '--cacheinfo', `100644,${empty},huge.bin`);
  return dir;
}

describe('git children', () => {
  // SIGTERM: ckpt's signal handler alone (the parent-death signal turned off);
  // SIGKILL: no handler can run, the parent-death signal does it.
  for (const [signal, env] of [['SIGTERM', { CKPT_NO_PDEATHSIG: '1' }], ['SIGKILL', {}]] as const) {
    it(`a snapshot killed by ${signal} takes its git add with it; no ref moves, the user's files, index and refs are untouched`, async () => {
      const dir = slowRepo();
      const repo = await openRepo(dir);
      const refs0 = userRefs(dir);
      const index0 = indexBytes(dir);
      const pic0 = hashedPicture(dir, ['huge.bin']);
      const p = spawn(process.execPath, [CLI, 'snap'], { cwd: dir, stdio: 'ignore', env: { ...process.env, ...env } });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => p.on('exit', (_c, s) => resolve(s)));
      let adds: number[] = [];
      for (let i = 0; i < 400 && adds.length === 0; i++) {
        await sleep(50);
        adds = childrenNamed(p.pid!, 'git');
      }
      expect(adds.length).toBe(1); // the snapshot's git, reading the huge file
      p.kill(signal);
      expect(await exited).toBe(signal);
      // git would read 64 GiB for minutes on its own; it must be gone with ckpt.
      for (let i = 0; i < 200 && running(adds[0]!); i++) await sleep(50);
      expect(running(adds[0]!)).toBe(false);
      expect(git(dir, 'for-each-ref', 'refs/ckpt/')).toBe('');
      expect(userRefs(dir)).toBe(refs0);
      expect(indexBytes(dir).equals(index0)).toBe(true);
      expect(hashedPicture(dir, ['huge.bin'])).toEqual(pic0);
      expect(fs.existsSync(path.join(repo.stateDir, 'lock'))).toBe(signal === 'SIGKILL'); // a SIGKILLed holder cannot remove its lock…
      fs.rmSync(path.join(dir, 'huge.bin'));
      git(dir, 'rm', '-q', '--cached', 'huge.bin');
      // …and the next snapshot takes it over at once, and works.
      const s = await takeSnapshot(repo, { kind: 'manual' });
      expect(s.snapshot.step).toBe(1);
    }, 60_000);
  }

  // setpriv sets the parent-death signal after fork(2) and exec: a ckpt killed before that moment sends
  // nothing, and its git would run on alone. The window is narrower than a Node process's own exit, so it is
  // shown by its model: a git whose parent is no longer the ckpt that started it never starts.
  it.runIf(process.platform === 'linux' && fs.existsSync('/usr/bin/setpriv'))('a git child whose ckpt died before setpriv set the parent-death signal never runs', () => {
    const dir = tempDir();
    spawnSync('mkfifo', [path.join(dir, 'fifo')]);
    // git hash-object of a FIFO nobody writes blocks for ever: a git that ran would show as a timeout.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const [cmd, ...args] = gitCommandLine(['hash-object', '--no-filters', 'fifo'], gone);
    expect(cmd).toMatch(/setpriv$/);
    const orphan = spawnSync(cmd!, args, { cwd: dir, timeout: 30_000, encoding: 'utf8' });
    expect(orphan.signal).toBe(null);
    expect(orphan.status).toBe(129);
    // With its parent alive (this process, here), git runs as usual.
    const [c2, ...a2] = gitCommandLine(['--version'], process.pid);
    const live = spawnSync(c2!, a2, { cwd: dir, timeout: 30_000, encoding: 'utf8' });
    expect(live.status).toBe(0);
    expect(live.stdout).toMatch(/^git version /);
  });

  it("a private index naming objects that the user's git gc pruned is rebuilt and reported, and the snapshot is complete", async () => {
    const dir = makeRepo({ 'README.md': '# gc\n', 'src/a.txt': 'a\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    // What a `git add` that outlived its ckpt leaves: the private index naming
    // objects no ref holds (captureTree writes the index, records nothing).
    write(dir, { 'orphan.txt': 'orphan bytes\n', 'src/a.txt': 'a2\n' });
    // Older than the index: not "racily clean", so git trusts its stat cache for them.
    const past = new Date(Date.now() - 60_000);
    for (const f of ['orphan.txt', 'src/a.txt']) fs.utimesSync(path.join(dir, f), past, past);
    await captureTree(repo);
    git(dir, 'gc', '--prune=now', '-q');
    // And ckpt's own store pruned of what no chain holds (what `ckpt gc` frees): the
    // blobs and the trees the private index's cache-tree names are gone together.
    storeGit(dir, 'prune', '--expire=now');
    // Whatever store the objects live in, they are gone now.
    for (const content of ['orphan bytes\n', 'a2\n']) {
      const oid = spawnSync('git', ['hash-object', '--stdin'], { cwd: dir, input: content, encoding: 'utf8' }).stdout.trim();
      for (const f of findFiles(path.join(dir, '.git'), `${oid.slice(0, 2)}/${oid.slice(2)}`)) fs.rmSync(f);
      expect(spawnSync('git', ['cat-file', '-e', oid], { cwd: dir, env: { ...process.env, GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(dir, '.git', 'ckpt', 'shadow', 'objects') } }).status).not.toBe(0);
    }
    const pic = picture(dir);
    const r = spawnSync(process.execPath, [CLI, 'snap', '--json'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { created: boolean; warnings: string[]; snapshot: { tree: string } };
    expect(out.created).toBe(true);
    expect(out.warnings.join('\n')).toMatch(/private index named objects missing .*rebuilt/);
    expect(storeGit(dir, 'cat-file', 'blob', `${out.snapshot.tree}:orphan.txt`)).toBe('orphan bytes\n');
    expect(storeGit(dir, 'cat-file', 'blob', `${out.snapshot.tree}:src/a.txt`)).toBe('a2\n');
    expect(picture(dir)).toEqual(pic);
    // The next one needs no rebuild, and every snapshot's objects are present.
    write(dir, { 'b.txt': 'b\n' });
    const again = await takeSnapshot(repo, { kind: 'manual' });
    expect(again.warnings).toEqual([]);
    expect((await listSteps(repo, { stats: false })).map((s) => s.step)).toEqual([3, 2, 1]);
    git(dir, 'fsck', '--no-dangling', '--no-progress');
    storeGit(dir, 'fsck', '--no-dangling', '--no-progress');
  });
});

/** Files under `root` whose path ends with `suffix`. */
function findFiles(root: string, suffix: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(suffix)) out.push(p);
    }
  };
  walk(root);
  return out;
}
