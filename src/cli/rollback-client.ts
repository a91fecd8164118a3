/**
 * `ckpt rollback` served by the repository's daemon: the tiny client that
 * bin/ckpt.js runs before it loads the CLI (bundled alone as
 * dist/rollback.cjs, Node's built-ins only: scripts/build.mjs checks it).
 * For a command line the lean path takes (cli/lean-parse.ts) it sends the
 * line, its directory, the environment that matters and how its output is
 * shown to the daemon, which runs the CLI's own rollback (cli/daemon-rollback.ts)
 * and returns its exit code and output (stdout's and stderr's pieces in
 * the order written); they are written so. The conversation is cli/rollback-wire.ts.
 *
 * Anything else is left to the CLI (null), which then does what it always
 * did: another command line; the daemon not wanted (`CKPT_NO_DAEMON=1` and
 * the others of daemon-paths.ts daemonWanted); git's discovery variables
 * set (daemon-paths.ts findCommonDir); no daemon, one of another version or
 * protocol, one that does not accept within {@link CONNECT_MS} or answer
 * within {@link READY_MS}; a refusal (another environment, umask,
 * confinement or repository, a daemon that runs no rollbacks).
 *
 * Once it has said go, the client never runs the rollback itself: the
 * daemon may have begun it. A daemon that ends before its answer is
 * reported as `DAEMON_FAILED` ({@link RollbackClientResult} `lost`): the
 * rollback is then finished or undone by the next one, as after a killed
 * `ckpt rollback` (snapshot/restore/recover.ts). A client killed meanwhile
 * changes nothing: the daemon finishes the rollback.
 */
import { connect } from 'node:net';
import { DAEMON_PROTOCOL, DAEMON_VERSION, daemonWanted, findCommonDir, trustedSocketPath } from '../watch/daemon-paths.js';
import { parseLeanRollback } from './lean-parse.js';
import { behaviourEnv, confinement, cwdIdentity, OUTPUT_ENV } from './rollback-wire.js';

/** How long the daemon may take to accept the connection, in ms. */
const CONNECT_MS = 1000;
/** How long it may take to say it runs the rollback (or refuse), in ms: past it the CLI runs it. */
const READY_MS = 3000;

/** What {@link runRollbackClient} did: the command's exit code once written; `lost` when the daemon ended after the go-ahead; null: the CLI runs the command. */
export type RollbackClientResult = { exit: number } | { lost: true; json: boolean } | null;

/** The process's side the client reads and writes (the real ones by default; a test's). */
export interface ClientIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Runs `argv` (without node and script) through the daemon when it can.
 *
 * @returns see {@link RollbackClientResult}; never throws.
 */
export async function runRollbackClient(argv: readonly string[], io: ClientIo = { cwd: process.cwd(), env: process.env, stdout: process.stdout, stderr: process.stderr }): Promise<RollbackClientResult> {
  const lean = parseLeanRollback(argv);
  if (!lean) return null;
  // Behind a race's hook relay (a sandbox): the CLI's path, as before.
  if (io.env.CKPT_HOOK_SOCKET) return null;
  const commonDir = findCommonDir(io.cwd, io.env);
  if (!commonDir || !daemonWanted(commonDir, io.env)) return null;
  const outEnv: Record<string, string> = {};
  for (const k of OUTPUT_ENV) if (io.env[k] !== undefined) outEnv[k] = io.env[k];
  const request = {
    v: DAEMON_PROTOCOL,
    version: DAEMON_VERSION,
    cmd: 'rollback',
    cwd: io.cwd,
    cwdId: cwdIdentity(io.cwd),
    argv,
    env: behaviourEnv(io.env),
    outEnv,
    tty: { stdout: !!io.stdout.isTTY, stderr: !!io.stderr.isTTY, ...(io.stdout.columns ? { columns: io.stdout.columns } : {}), ...(io.stdout.rows ? { rows: io.stdout.rows } : {}) },
    umask: process.umask(),
    // What confines this process: a sandboxed client is not served by an unconfined daemon (rollback-wire.ts confinement).
    confined: confinement(),
  };
  // A shared socket directory that is not this user's own 0700 one: its env is not sent there (the CLI runs the line).
  const sock = trustedSocketPath(commonDir);
  if (sock === null) return null;
  const reply = await converse(sock, request);
  if (reply === null) return null;
  if (reply === 'lost') return { lost: true, json: !!lean.input.json };
  // In the order the command wrote them, each piece handed to the system before the next: `2>&1` reads as the CLI's own.
  let werr: NodeJS.ErrnoException | null = null;
  for (const [fd, text] of reply.output) {
    if (fd === 1) {
      // stdout failed (a reader gone): the rest of it is not written; stderr still is.
      if (!werr) werr = await write(io.stdout, text);
    } else await write(io.stderr, text);
  }
  // As the CLI's settleOutput: output that never arrived is not success (exit 4; a message unless the reader went away).
  if (!werr) return { exit: reply.exit };
  if (werr.code !== 'EPIPE') await write(io.stderr, `error: cannot write the output to stdout: ${werr.code ?? werr.message}\n`);
  return { exit: reply.exit || 4 };
}

type Final = { exit: number; output: Array<[1 | 2, string]> };

/** The daemon's final reply (rollback-wire.ts step 4), or null when it is not one: an exit code 0-255 and output pieces of stream 1 or 2. */
function finalReply(msg: Record<string, unknown> | null): Final | null {
  if (!msg || msg.ok !== true) return null;
  const { exit, output } = msg;
  if (typeof exit !== 'number' || !Number.isInteger(exit) || exit < 0 || exit > 255 || !Array.isArray(output)) return null;
  for (const p of output as unknown[]) if (!Array.isArray(p) || p.length !== 2 || (p[0] !== 1 && p[0] !== 2) || typeof p[1] !== 'string') return null;
  return { exit, output: output as Final['output'] };
}

/** The conversation of rollback-wire.ts: null before the go-ahead (the CLI runs it), 'lost' after it, else the final reply. */
function converse(socket: string, request: Record<string, unknown>): Promise<Final | 'lost' | null> {
  return new Promise((resolve) => {
    let state: 'connect' | 'ready' | 'go' | 'done' = 'connect';
    let buf = '';
    const finish = (v: Final | 'lost' | null): void => {
      if (state === 'done') return;
      state = 'done';
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    // After the go-ahead no bound applies: the rollback runs in the daemon.
    const bound = (of: typeof state, ms: number): NodeJS.Timeout =>
      setTimeout(() => {
        // Once more after pending callbacks and poll (as daemon-client.ts): an answer that came in time wins.
        setImmediate(() => {
          if (state === of) finish(null);
        });
      }, ms);
    let timer = bound('connect', CONNECT_MS);
    const sock = connect(socket);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      clearTimeout(timer);
      state = 'ready';
      timer = bound('ready', READY_MS);
      sock.write(JSON.stringify(request) + '\n');
    });
    sock.on('data', (c: string) => {
      buf += c;
      for (let nl = buf.indexOf('\n'); nl >= 0 && state !== 'done'; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Record<string, unknown> | null = null;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          msg = null;
        }
        if (state === 'ready') {
          // Another version's daemon, a refusal, nonsense: nothing was begun.
          if (!msg || msg.version !== DAEMON_VERSION || msg.ok !== true || msg.ready !== true) return finish(null);
          clearTimeout(timer);
          state = 'go';
          sock.write(JSON.stringify({ go: true }) + '\n');
        } else if (state === 'go') {
          // The daemon gave up waiting for the go-ahead (a client stalled past its bound) and began nothing: the CLI runs it.
          if (msg && msg.ok === false && msg.code === 'GONE') return finish(null);
          // A malformed answer (an exit that is no code, output of no stream) after go: the rollback's fate is unknown, as a daemon gone.
          return finish(finalReply(msg) ?? 'lost');
        }
      }
    });
    const ended = (): void => finish(state === 'go' ? 'lost' : null);
    sock.on('error', ended);
    sock.on('close', ended);
  });
}

/** Writes `text` and waits until it is handed to the system; resolves to the stream's write error (EPIPE, ENOSPC), or null. */
function write(stream: ClientIo['stdout'], text: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => resolve(err);
    stream.once('error', onError);
    try {
      stream.write(text, (err) => {
        stream.off('error', onError);
        resolve((err as NodeJS.ErrnoException | null | undefined) ?? null);
      });
    } catch (err) {
      resolve(err as NodeJS.ErrnoException);
    }
  });
}
