/**
 * The daemon's tiny client: one request over the repository's unix socket,
 * one JSON line back. Imports only `node:net` and daemon-paths.ts, so
 * `ckpt hook` pays nothing for the CLI (no commander, no git). Every failure
 * (no daemon, a dead socket, another version, a timeout, a daemon killed
 * while it worked) is `null`: the caller then does the work itself.
 */
import { connect } from 'node:net';
import { DAEMON_PROTOCOL, DAEMON_VERSION, trustedSocketPath } from './daemon-paths.js';

/** A reply from the daemon: `ok` plus what the command returns. */
export interface DaemonReply {
  ok: boolean;
  [key: string]: unknown;
}

/**
 * Sends `{cmd, ...body}` to the daemon of the repository at `commonDir`.
 *
 * @param connectMs how long to wait for the connection, in ms (a daemon that
 *   does not accept within it is treated as absent).
 * @param replyMs how long to wait for the reply once connected, in ms.
 * @returns the reply, or null when there is none to trust (never throws).
 *   A reply with `ok: false` is returned as is (`code` says why).
 */
export async function daemonRequest(commonDir: string, cmd: string, body: Record<string, unknown>, opts: { connectMs: number; replyMs: number }): Promise<DaemonReply | null> {
  // A shared socket directory that is not this user's own 0700 one: whatever listens there is not trusted (no daemon).
  const sock = trustedSocketPath(commonDir);
  return sock === null ? null : socketRequest(sock, cmd, body, opts);
}

/**
 * Sends `{v, version, cmd, ...body}` as one JSON line to the unix socket at
 * `socket` (the repository's daemon, or a race's hook relay) and reads one
 * JSON line back.
 *
 * @param connectMs how long to wait for the connection, in ms.
 * @param replyMs how long to wait for the reply once connected, in ms.
 * @returns the reply; `{ok: false, code: 'VERSION'}` from a server of another
 *   version; null when there is none to trust (never throws).
 */
export function socketRequest(socket: string, cmd: string, body: Record<string, unknown>, opts: { connectMs: number; replyMs: number }): Promise<DaemonReply | null> {
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const finish = (v: DaemonReply | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const sock = connect(socket);
    // A timer that fires looks once more after Node's pending callbacks and poll (setImmediate):
    // a client stalled past the bound (a loaded machine) finds there a connect or a reply that
    // had come in time, instead of taking a daemon that answered for an absent one.
    let phase: 'connect' | 'reply' = 'connect';
    const expire = (of: 'connect' | 'reply'): void => {
      setImmediate(() => {
        if (phase === of) finish(null);
      });
    };
    let timer = setTimeout(() => expire('connect'), opts.connectMs);
    sock.on('connect', () => {
      clearTimeout(timer);
      phase = 'reply';
      timer = setTimeout(() => expire('reply'), opts.replyMs);
      sock.write(JSON.stringify({ v: DAEMON_PROTOCOL, version: DAEMON_VERSION, cmd, ...body }) + '\n');
    });
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const reply = JSON.parse(buf.slice(0, nl)) as DaemonReply;
        finish(reply && typeof reply === 'object' && reply.version === DAEMON_VERSION ? reply : reply && typeof reply === 'object' ? { ok: false, code: 'VERSION', daemon: reply.version } : null);
      } catch {
        finish(null);
      }
    });
    sock.on('error', () => finish(null));
    sock.on('close', () => finish(null));
  });
}
