/**
 * cli/rollback-client.ts against a fake daemon on the repository's socket:
 * what the client does with each answer of the conversation
 * (cli/rollback-wire.ts). Before its go-ahead anything but `ready` (a
 * refusal, another version, silence past its bound) leaves the line to the
 * CLI (null) and the daemon never hears go; after it, the final reply is
 * written as it is, a daemon that ends without one is `lost` (never run
 * again by the client), and a daemon that says it began nothing (`GONE`)
 * leaves the line to the CLI. A line the lean path does not take, or a
 * client told not to use the daemon, never connects.
 */
import fs from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runRollbackClient } from '../src/cli/rollback-client.js';
import { DAEMON_VERSION, socketPath, trustedSocketPath } from '../src/watch/daemon-paths.js';
import { daemonRequest } from '../src/watch/daemon-client.js';
import { git, makeRepo, tempDir } from './support/repo.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A fake daemon for `dir`: `onLine(n, msg, sock)` for each line it reads; returns what it saw. */
async function fakeDaemon(dir: string, onLine: (n: number, msg: Record<string, unknown>, sock: Socket) => void): Promise<{ lines: Record<string, unknown>[]; connections: number }> {
  const sockPath = socketPath(path.join(dir, '.git'));
  fs.mkdirSync(path.dirname(sockPath), { recursive: true });
  const seen = { lines: [] as Record<string, unknown>[], connections: 0 };
  const server = createServer((sock) => {
    seen.connections++;
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (c: string) => {
      buf += c;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        seen.lines.push(msg);
        onLine(seen.lines.length, msg, sock);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(sockPath, r));
  return seen;
}

function io(dir: string, env: NodeJS.ProcessEnv = {}): { io: Parameters<typeof runRollbackClient>[1]; out: () => string; err: () => string } {
  const sink = (): { stream: Writable; text: () => string } => {
    let text = '';
    return { stream: new Writable({ write: (c, _e, cb) => ((text += String(c)), cb()) }), text: () => text };
  };
  const o = sink();
  const e = sink();
  const base = { ...process.env, ...env };
  delete base.CKPT_NO_DAEMON;
  delete base.CKPT_HOOK_SOCKET;
  return { io: { cwd: dir, env: base, stdout: o.stream, stderr: e.stream }, out: o.text, err: e.text };
}

const ready = (sock: Socket): boolean => sock.write(JSON.stringify({ ok: true, ready: true, version: DAEMON_VERSION }) + '\n');

describe('the rollback client', () => {
  it('writes the final reply as it is, after ready and go, its pieces in their order', async () => {
    const dir = makeRepo();
    const output = [[1, 'out ✓\n'], [2, 'warning: w\n'], [1, 'more\n']];
    const seen = await fakeDaemon(dir, (n, _m, sock) => {
      if (n === 1) ready(sock);
      else sock.end(JSON.stringify({ ok: true, exit: 3, output, version: DAEMON_VERSION }) + '\n');
    });
    const both: string[] = [];
    const c = io(dir, { NO_COLOR: '1' });
    const order = (s: NodeJS.WritableStream, fd: number): void => {
      const w = s.write.bind(s);
      s.write = ((chunk: string, cb: () => void) => (both.push(`${fd}:${chunk}`), w(chunk, cb))) as typeof s.write;
    };
    order(c.io!.stdout, 1);
    order(c.io!.stderr, 2);
    expect(await runRollbackClient(['rollback', '2', '--json'], c.io)).toEqual({ exit: 3 });
    expect([c.out(), c.err()]).toEqual(['out ✓\nmore\n', 'warning: w\n']);
    expect(both).toEqual(['1:out ✓\n', '2:warning: w\n', '1:more\n']);
    expect(seen.lines[0]).toMatchObject({ cmd: 'rollback', argv: ['rollback', '2', '--json'], cwd: dir, version: DAEMON_VERSION, outEnv: { NO_COLOR: '1' }, tty: { stdout: false, stderr: false } });
    expect(seen.lines[1]).toEqual({ go: true });
  });

  it('leaves the line to the CLI on a refusal, another version or silence, and never says go then', async () => {
    const dir = makeRepo();
    for (const answer of [{ ok: false, code: 'UNSERVED', version: DAEMON_VERSION }, { ok: true, ready: true, version: 'other+p9' }]) {
      const seen = await fakeDaemon(dir, (_n, _m, sock) => sock.end(JSON.stringify(answer) + '\n'));
      expect(await runRollbackClient(['rollback', '2'], io(dir).io)).toBeNull();
      expect(seen.lines).toHaveLength(1);
      await new Promise((r) => servers.pop()!.close(r));
    }
    const silent = await fakeDaemon(dir, () => undefined);
    const t0 = Date.now();
    expect(await runRollbackClient(['rollback', '2'], io(dir).io)).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900);
    expect(silent.lines).toHaveLength(1);
  });

  it('after go: a daemon that ends without its answer is lost; one that began nothing (GONE) leaves the line to the CLI', async () => {
    const dir = makeRepo();
    await fakeDaemon(dir, (n, _m, sock) => (n === 1 ? ready(sock) : sock.destroy()));
    expect(await runRollbackClient(['rollback', '--undo', '--json'], io(dir).io)).toEqual({ lost: true, json: true });
    await new Promise((r) => servers.pop()!.close(r));
    await fakeDaemon(dir, (n, _m, sock) => (n === 1 ? ready(sock) : sock.end(JSON.stringify({ ok: false, code: 'GONE', version: DAEMON_VERSION }) + '\n')));
    expect(await runRollbackClient(['rollback', '2'], io(dir).io)).toBeNull();
  });

  it('after go: an answer whose exit is no code 0-255, or whose output is malformed, is lost (never run again by the client)', async () => {
    const dir = makeRepo();
    for (const bad of [{ exit: 1.5, output: [] }, { exit: -1, output: [] }, { exit: 256, output: [] }, { exit: '0', output: [] }, { exit: 0, output: [[3, 'x']] }, { exit: 0, output: [[1, 7]] }, { exit: 0 }]) {
      await fakeDaemon(dir, (n, _m, sock) => (n === 1 ? ready(sock) : sock.end(JSON.stringify({ ok: true, ...bad, version: DAEMON_VERSION }) + '\n')));
      const c = io(dir);
      expect(await runRollbackClient(['rollback', '2'], c.io), JSON.stringify(bad)).toEqual({ lost: true, json: false });
      expect(c.out() + c.err()).toBe('');
      await new Promise((r) => servers.pop()!.close(r));
    }
  });

  it("sends nothing to a socket in a shared temporary directory that is not this user's own 0700 one (a long repository path)", async () => {
    const tmp = tempDir();
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = path.join(tmp, 'shared');
    try {
      const dir = path.join(tmp, 'r'.repeat(60), 'd'.repeat(60));
      fs.mkdirSync(dir, { recursive: true });
      git(dir, 'init', '-q');
      const common = path.join(dir, '.git');
      const sock = socketPath(common);
      expect(sock.startsWith(path.join(tmp, 'shared', 'ckpt-'))).toBe(true);
      const seen = await fakeDaemon(dir, (n, _m, s) => (n === 1 ? ready(s) : s.end(JSON.stringify({ ok: true, exit: 0, output: [[1, 'served\n']], version: DAEMON_VERSION }) + '\n')));
      for (const mode of [0o777, 0o755, 0o750]) {
        fs.chmodSync(path.dirname(sock), mode);
        expect(trustedSocketPath(common), mode.toString(8)).toBeNull();
        expect(await runRollbackClient(['rollback', '2'], io(dir).io), mode.toString(8)).toBeNull();
        expect(await daemonRequest(common, 'hello', {}, { connectMs: 500, replyMs: 500 })).toBeNull();
      }
      expect(seen.connections).toBe(0);
      // This user's own 0700 directory: served.
      fs.chmodSync(path.dirname(sock), 0o700);
      expect(trustedSocketPath(common)).toBe(sock);
      const c = io(dir);
      expect(await runRollbackClient(['rollback', '2'], c.io)).toEqual({ exit: 0 });
      expect(c.out()).toBe('served\n');
      expect(seen.connections).toBe(1);
      // A link to this user's own directory is not one.
      await new Promise((r) => servers.pop()!.close(r));
      fs.renameSync(path.dirname(sock), path.join(tmp, 'elsewhere'));
      fs.symlinkSync(path.join(tmp, 'elsewhere'), path.dirname(sock));
      expect(trustedSocketPath(common)).toBeNull();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('does not connect for a line the lean path leaves to commander, nor when the daemon is not wanted', async () => {
    const dir = makeRepo();
    const seen = await fakeDaemon(dir, (_n, _m, sock) => ready(sock));
    expect(await runRollbackClient(['rollback', '--help'], io(dir).io)).toBeNull();
    expect(await runRollbackClient(['rollback', '2'], io(dir, { CKPT_DAEMON: '0' }).io)).toBeNull();
    expect(await runRollbackClient(['rollback', '2'], io(dir, { GIT_DIR: path.join(dir, '.git') }).io)).toBeNull();
    expect(seen.connections).toBe(0);
  });
});
