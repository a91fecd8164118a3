/**
 * The daemon's tiny client (watch/daemon-client.ts) on a loaded machine: a
 * client process stalled past its connect bound (here its own event loop
 * blocked) still takes the connection and the answer that came in time,
 * rather than taking the daemon for absent; a server that never answers is
 * still given up on.
 */
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { socketRequest } from '../src/watch/daemon-client.js';
import { DAEMON_VERSION } from '../src/watch/daemon-paths.js';
import { tempDir } from './support/repo.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server on a fresh socket answering each request line with `reply` (null: never answering). */
async function server(reply: Record<string, unknown> | null): Promise<string> {
  const sock = path.join(tempDir('ckpt-client-'), 'sock');
  const s = net.createServer((c) => {
    c.setEncoding('utf8');
    c.on('error', () => undefined);
    c.on('data', () => {
      if (reply) c.end(JSON.stringify(reply) + '\n');
    });
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(sock, resolve));
  return sock;
}

/** Blocks this process's event loop for `ms` (the client stalled, as on a loaded machine). */
function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
}

describe('socketRequest', () => {
  it('a client stalled past its connect bound still gets the answer of a server that accepted in time', async () => {
    const sock = await server({ ok: true, version: DAEMON_VERSION, pong: 1 });
    const asked = socketRequest(sock, 'hello', {}, { connectMs: 1, replyMs: 30_000 });
    // The kernel completes the connect now; the 1 ms timer expires during the stall and fires first.
    stall(100);
    expect(await asked).toMatchObject({ ok: true, pong: 1 });
  });

  it('a server that accepts and never answers is given up on; no socket at all is absent', async () => {
    const silent = await server(null);
    expect(await socketRequest(silent, 'hello', {}, { connectMs: 5000, replyMs: 200 })).toBe(null);
    expect(await socketRequest(path.join(tempDir('ckpt-client-'), 'none'), 'hello', {}, { connectMs: 5000, replyMs: 5000 })).toBe(null);
  });
});
