/**
 * A race's hook relay: how the hooks of a fenced agent (`race --sandbox`)
 * record their steps although ckpt's store is read-only to them. The race
 * process, outside the sandbox, listens on a unix socket in a private
 * directory of its own that is bound read-only into the sandbox (connecting
 * needs no write access; the agent can neither replace nor remove the
 * socket) and named to the agent by `CKPT_HOOK_SOCKET`. `ckpt hook AGENT`
 * sends its stdin there (cli/commands/hook.ts) and the relay takes the
 * snapshot the payload asks for, as the hook itself would (agents/hooks.ts
 * `recordHookStep`, group commit included).
 *
 * What the agent cannot choose: the worktree snapshotted is always the one
 * the relay serves (the payload's `cwd` is not followed), and the `Race`,
 * `Attempt` and `Round` trailers are the race's own, not the agent's
 * environment.
 *
 * Protocol: one JSON line `{v, version, cmd: "hook", agent, stdin}`, one JSON
 * line back: `{ok: true, version, id, step, problems, reply}` (`reply`: what
 * the hook prints for the agent), or `{ok: false, version, code, message}`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadAgentHooks } from '../agents/hook-registry.js';
import { HOOK_WAIT_MS, recordHookStep } from '../agents/hooks.js';
import { recordHookState } from '../agents/state.js';
import type { Repo } from '../git/repo.js';
import { DAEMON_VERSION } from '../watch/daemon-paths.js';

/** The variable naming the relay's socket to the hook. */
export const HOOK_SOCKET_ENV = 'CKPT_HOOK_SOCKET';

/** Largest request line read, bytes (a larger one closes the connection; the hook then tries the direct path, which the sandbox refuses, and logs it). */
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/** Longest unix socket path (sockaddr_un holds 108 bytes on Linux). */
const MAX_SOCKET_PATH = 100;

/** A running relay. */
export interface HookRelay {
  /** The directory holding the socket (bind it into the sandbox, read-only). */
  dir: string;
  /** The socket's path (the value of {@link HOOK_SOCKET_ENV}). */
  socket: string;
  /** Steps recorded through it so far. */
  recorded(): number;
  /** Stops listening, waits for the requests being served, removes the directory. */
  close(): Promise<void>;
}

/** What {@link startHookRelay} serves. */
export interface HookRelayOptions {
  /** The agent whose hooks it serves (`claude`); a request for another is refused. */
  agent: string;
  /** The trailers' source, read at each request: `CKPT_RACE_ID`, `CKPT_ATTEMPT`, `CKPT_ROUND`. */
  env: () => NodeJS.ProcessEnv;
  /** Called after each recorded step. */
  onStep?: () => void;
}

/**
 * Starts a relay serving hooks of `o.agent` for the worktree of `repo`.
 *
 * @throws Error when the socket cannot be made (the caller records it; its agent then runs with the watcher's steps only).
 */
export async function startHookRelay(repo: Repo, o: HookRelayOptions): Promise<HookRelay> {
  const hooks = await loadAgentHooks(o.agent);
  const base = Buffer.byteLength(os.tmpdir()) + 32 <= MAX_SOCKET_PATH ? os.tmpdir() : '/tmp';
  const dir = mkdtempSync(path.join(base, 'ckpt-hook-'));
  const socket = path.join(dir, 'sock');
  let recorded = 0;
  const serving = new Set<Promise<void>>();
  const answer = async (line: string): Promise<Record<string, unknown>> => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return { ok: false, code: 'BAD_REQUEST', message: 'not JSON' };
    }
    if (msg.version !== DAEMON_VERSION) return { ok: false, code: 'VERSION', message: `the relay is ckpt ${DAEMON_VERSION}` };
    if (msg.cmd !== 'hook') return { ok: false, code: 'UNKNOWN_COMMAND', message: `unknown command ${JSON.stringify(msg.cmd)}` };
    if (!hooks || msg.agent !== o.agent) return { ok: false, code: 'OTHER_AGENT', message: `this relay serves ${o.agent}'s hooks, not ${JSON.stringify(msg.agent)}'s` };
    const parsed = hooks.parse(String(msg.stdin ?? ''));
    try {
      // The agent's state too (its state dir is not writable inside the fence): the race is the
      // process it names, so the state goes stale if the race dies (agents/state.ts).
      await recordHookState(hooks.agent, { ...parsed, cwd: repo.worktree }, repo.worktree, { pid: process.pid, env: o.env() }).catch(() => null);
      // Always this worktree, whatever the payload's cwd says.
      const res = await recordHookStep(hooks.agent, { ...parsed, cwd: repo.worktree }, repo.worktree, { waitMs: HOOK_WAIT_MS, env: o.env() });
      if (res) {
        recorded++;
        o.onStep?.();
      }
      return { ok: true, id: res?.id ?? null, step: res?.step ?? null, problems: parsed.problems, reply: hooks.reply(parsed) };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return { ok: false, code: e.code ?? 'ERROR', message: e.message ?? String(err) };
    }
  };
  const conns = new Set<Socket>();
  const server: Server = createServer((sock) => {
    let buf = '';
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_REQUEST_BYTES) sock.destroy();
        return;
      }
      const line = buf.slice(0, nl);
      buf = '';
      sock.removeAllListeners('data');
      const job = answer(line).then(
        (reply) => {
          if (!sock.destroyed) sock.end(JSON.stringify({ ...reply, version: DAEMON_VERSION }) + '\n');
        },
        () => {
          sock.destroy();
        },
      );
      serving.add(job);
      void job.finally(() => serving.delete(job));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    dir,
    socket,
    recorded: () => recorded,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Requests being served finish (their steps are recorded); a connection that sends nothing more is cut.
      await Promise.allSettled([...serving]);
      for (const s of conns) s.destroy();
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
