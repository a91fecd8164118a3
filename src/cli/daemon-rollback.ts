/**
 * `ckpt rollback` run inside the repository's daemon for its tiny client
 * (cli/rollback-client.ts; the conversation is cli/rollback-wire.ts): the
 * same parse (cli/lean-parse.ts), validation and command (cli/lean-rollback.ts
 * runLean, commands/rollback-run.ts) as the CLI's lean path, printing
 * through an Output whose streams record what is written, both in one list
 * in the order written (replayed so by the client), and say what the client's
 * are (a terminal or not, its width) and whose colour is decided from the
 * client's `NO_COLOR`, `FORCE_COLOR` and `TERM`, so stdout, stderr and the
 * exit code are the bytes the CLI would have given (test/cli-lean.test.ts
 * compares them). The worktree is read by the daemon in process (its dirty
 * set and trees: watch/daemon.ts localReader); every guarantee of the
 * rollback holds as it is in the library (the check at the point of
 * destruction hashes what it replaces; the pre-rollback snapshot is
 * recorded first), since it is the library.
 *
 * Refused before anything is done, so the client runs the rollback itself
 * (`UNSERVED`, `OTHER_REPO`, `BAD_REQUEST`): a line the lean path does not
 * take; an environment that differs from the daemon's in a variable that
 * changes what the rollback does (rollback-wire.ts behaviourEnv); another
 * umask (the modes of the files written); another confinement (namespaces,
 * user and groups, no_new_privs, seccomp: rollback-wire.ts confinement), or
 * a directory that is not the client's at its path (another root or
 * mount): a sandboxed client's rollback must fail as the CLI's would, not
 * be done by an unconfined daemon; a directory outside the daemon's
 * repository or not in a worktree.
 *
 * Loaded by the daemon at its first rollback, not at start (its ready time
 * and memory).
 */
import { Writable } from 'node:stream';
import path from 'node:path';
import { openRepo, type Repo } from '../git/repo.js';
import type { RollbackServer, RollbackService } from '../watch/rollback-service.js';
import { DAEMON_VERSION } from '../watch/daemon-paths.js';
import { parseLeanRollback, runLean } from './lean-rollback.js';
import { Output, type OutStream } from './output.js';
import { behaviourEnv, confinement, confinementDifference, cwdIdentity, envDifference, OUTPUT_ENV } from './rollback-wire.js';

/** How long the daemon waits for the client's go-ahead after `ready`, in ms (a client that gave up never sends it: nothing is done). */
const GO_MS = 10_000;

/** {@link RollbackServer} for watch/daemon.ts: see the module's comment. */
export const serveRollback: RollbackServer = async (msg, svc) => {
  const t0 = performance.now();
  // `reason`: a short key without paths or values (the daemon counts refusals by it in its status: why rollbacks fall back).
  const refuse = (code: string, message: string, reason = code.toLowerCase()): Record<string, unknown> => ({ ok: false, code, message, reason });
  const argv = msg.argv;
  const cwd = msg.cwd;
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string') || typeof cwd !== 'string' || !path.isAbsolute(cwd)) return refuse('BAD_REQUEST', 'argv and an absolute cwd are needed');
  const lean = parseLeanRollback(argv as string[]);
  if (!lean) return refuse('UNSERVED', 'not a command line of the lean path', 'line');
  const env = strings(msg.env);
  if (!env) return refuse('BAD_REQUEST', 'env must name strings');
  const differs = envDifference(env, behaviourEnv(process.env));
  if (differs !== null) return refuse('UNSERVED', `the client's ${differs} is not the daemon's`, `env ${differs}`);
  if (msg.umask !== process.umask()) return refuse('UNSERVED', "the client's umask is not the daemon's", 'umask');
  // A confined client (a sandbox: its own mounts, user, no_new_privs, seccomp) is not served by this unconfined process.
  const confined = confinementDifference(msg.confined, ownConfinement());
  if (confined !== null) return refuse('UNSERVED', `the client's ${confined} is not the daemon's`, `confinement ${confined}`);
  if (msg.cwdId !== cwdIdentity(cwd)) return refuse('UNSERVED', "the client's directory is not the one the daemon sees at its path", 'cwd');
  let repo: Repo;
  try {
    repo = await openRepo(cwd);
  } catch (err) {
    // Not a worktree (or no longer one): the CLI reports it as it always does.
    return refuse('UNSERVED', (err as Error).message, 'not a worktree');
  }
  if (repo.commonDir !== svc.commonDir) return refuse('OTHER_REPO', `${repo.worktree} is not in this daemon's repository`);
  const reader = await svc.reader(repo);
  const tReady = performance.now();
  if (!(await goAhead(svc))) return refuse('GONE', 'the client did not go ahead');
  const tGo = performance.now();
  const tty = (msg.tty && typeof msg.tty === 'object' ? msg.tty : {}) as Record<string, unknown>;
  // One record of both streams, in the order written: the client replays it so that `2>&1` reads as the CLI's own output.
  const recorded: Recorded = [];
  const stdout = recorder(recorded, 1, tty.stdout === true, tty.columns, tty.rows);
  const stderr = recorder(recorded, 2, tty.stderr === true);
  const outEnv: NodeJS.ProcessEnv = {};
  const given = strings(msg.outEnv) ?? {};
  for (const k of OUTPUT_ENV) if (given[k] !== undefined) outEnv[k] = given[k];
  const out = new Output({ json: !!lean.input.json, color: 'auto', stdout, stderr, env: outEnv });
  // process.argv[1]: this daemon's bin script (the CLI names its own for hints; a rollback starts no daemon here).
  const exit = await runLean(lean, { cwd, out, program: 'ckpt', bin: process.argv[1] ?? 'ckpt' }, { reader });
  await out.flush();
  const ms = (a: number, b: number): string => (b - a).toFixed(1);
  svc.log(`${repo.worktree}: ${JSON.stringify(argv)} run for its client: exit ${exit}; ${ms(t0, tReady)} ms to ready, ${ms(tReady, tGo)} ms to its go, the command ${ms(tGo, performance.now())} ms`);
  return { ok: true, exit, output: recorded.map(([fd, chunks]) => [fd, Buffer.concat(chunks).toString('utf8')]) };
};

let own: Record<string, string | null> | undefined;
/** This process's {@link confinement}, read once (it does not change). */
function ownConfinement(): Record<string, string | null> {
  return (own ??= confinement());
}

/** Says `ready` and waits for the client's `{go: true}` (false: it hung up, said something else, or took longer than {@link GO_MS}). */
function goAhead(svc: RollbackService): Promise<boolean> {
  const sock = svc.sock;
  return new Promise((resolve) => {
    let buf = '';
    const done = (v: boolean): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.off('end', onClose);
      resolve(v);
    };
    const onData = (c: string | Buffer): void => {
      buf += String(c);
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        done((JSON.parse(buf.slice(0, nl)) as { go?: unknown })?.go === true);
      } catch {
        done(false);
      }
    };
    // The client hung up (its end: the server socket is half-open, allowHalfOpen).
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), GO_MS);
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('end', onClose);
    if (sock.destroyed || sock.readableEnded) return done(false);
    sock.write(JSON.stringify({ ok: true, ready: true, version: DAEMON_VERSION }) + '\n');
  });
}

/** An object of string values, or null. */
function strings(v: unknown): Record<string, string> | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') return null;
    out[k] = x;
  }
  return out;
}

/** The command's output as written: [1 (stdout) or 2 (stderr), text] in the order written, adjacent writes to one stream joined. */
type Recorded = Array<[1 | 2, Buffer[]]>;

/** A stream that records what is written to `log` as stream `fd`, shown as a terminal (or not) of the client's size. */
function recorder(log: Recorded, fd: 1 | 2, isTTY: boolean, columns?: unknown, rows?: unknown): OutStream {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const last = log.at(-1);
      if (last && last[0] === fd) last[1].push(chunk);
      else log.push([fd, [chunk]]);
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number; rows?: number };
  if (isTTY) stream.isTTY = true;
  if (typeof columns === 'number') stream.columns = columns;
  if (typeof rows === 'number') stream.rows = rows;
  return stream;
}
