/**
 * The local web viewer: a `node:http` server on 127.0.0.1 (a free port by
 * default) that serves the page and its JSON API for one race, or for one
 * worktree's own checkpoints.
 *
 * Who may talk to it: every request must carry the random token of the URL
 * (`?token=` or the `X-Ckpt-Token` header, compared in constant time); its
 * `Host` must be `127.0.0.1:PORT` or `localhost:PORT` (defeats DNS
 * rebinding); an `Origin`, when sent, must be the server's own; a
 * `Sec-Fetch-Site: cross-site` is refused. Anything else gets 403.
 *
 * ```
 * GET  /?token=T                       the page
 * GET  /api/race                       the RaceRecord (as `race show --json` prints it)
 * GET  /api/compare                    the comparison index (files, groups, disagreements)
 * GET  /api/file?path=P                one file's N-way model (NwayFile)
 * GET  /api/diff?attempt=A             A's diff against the base (AttemptDiff: files + unified patch)
 * GET  /api/steps[?attempt=A]          A's checkpoint timeline (Step[]), or the worktree's
 * GET  /api/tree?[attempt=A&]step=ID   the files at that step (StepTree)
 * GET  /api/blob?[attempt=A&]step=ID&path=P   one file at that step (StepFile)
 * GET  /api/step-changes?[attempt=A&]step=ID  what that step changed (NwayComparison)
 * POST /api/pick {"attempt": A}        race pick A (apply) → PickResult, or {error} (409 when refused)
 * ```
 *
 * Errors are `{"error": {code, message, hint, data}}` with 400/404 (bad
 * input), 409 (refused: `PICK_WOULD_CLOBBER`, `LOCKED`) or 500.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CkptError, isCkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';
import { attemptDiffs, findAttempt } from '../race/compare.js';
import { pickAttempt } from '../race/pick.js';
import { loadRace } from '../race/store.js';
import type { RaceRecord } from '../race/types.js';
import { ComparisonCache, fileOf, findStep, indexOf, stepChanges, stepFile, stepsOf, stepTree } from './data.js';
import { contentSecurityPolicy, renderPage, type Boot } from './page.js';

/** Options of {@link startViewer}. */
export interface ViewerOptions {
  /** The user's repository (the worktree the command runs in). */
  repo: Repo;
  /** The race to show; absent or null: `repo`'s own checkpoints (`ckpt view`). */
  race?: RaceRecord | null;
  /** Port to listen on; 0 or absent: a free one. */
  port?: number;
  /** Open the URL in the default browser (the `open` package). Default false. */
  open?: boolean;
}

/** A running viewer. */
export interface Viewer {
  /** `http://127.0.0.1:PORT/?token=…` */
  url: string;
  port: number;
  token: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Starts the viewer. Resolves once it listens.
 *
 * @throws CkptError `INVALID_ARGUMENT` (port in use or not allowed).
 */
export async function startViewer(opts: ViewerOptions): Promise<Viewer> {
  const { repo } = opts;
  const raceId = opts.race?.id ?? null;
  const token = randomBytes(24).toString('base64url');
  const tokenBuf = Buffer.from(token);
  const cache = new ComparisonCache();
  let port = 0;
  let picking: Promise<unknown> = Promise.resolve();

  const currentRace = (): RaceRecord => {
    if (!raceId) throw new HttpError(404, 'this viewer shows a worktree, not a race');
    return loadRace(repo, raceId);
  };
  const timelineRace = (attempt: string | null): RaceRecord | null => (attempt === null ? null : currentRace());

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const refusal = refuse(req, url);
    if (refusal) return send(res, 403, { error: { code: 'FORBIDDEN', message: refusal } });
    const p = url.pathname;
    const param = (name: string): string => {
      const v = url.searchParams.get(name);
      if (v === null || v === '') throw new HttpError(400, `missing parameter ${name}`);
      return v;
    };
    const attemptParam = (): string | null => {
      const a = url.searchParams.get('attempt');
      if (a === null) {
        if (raceId) throw new HttpError(400, 'missing parameter attempt');
        return null;
      }
      return a;
    };
    if (req.method === 'POST' && p === '/api/pick') return pick(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} not allowed`);
    switch (p) {
      case '/':
      case '/index.html':
        return sendPage(res, await bootFor(false));
      case '/api/race':
        return send(res, 200, currentRace());
      case '/api/compare':
        return send(res, 200, indexOf(await cache.get(repo, currentRace())));
      case '/api/file':
        return send(res, 200, fileOf(await cache.get(repo, currentRace()), param('path')));
      case '/api/diff': {
        const race = currentRace();
        const name = param('attempt');
        findAttempt(race, name);
        return send(res, 200, (await attemptDiffs(repo, race, [name]))[0]);
      }
      case '/api/steps': {
        const a = attemptParam();
        return send(res, 200, await stepsOf(repo, timelineRace(a), a));
      }
      case '/api/tree':
      case '/api/blob':
      case '/api/step-changes': {
        const a = attemptParam();
        const race = timelineRace(a);
        const steps = await stepsOf(repo, race, a);
        const step = findStep(steps, param('step'));
        if (p === '/api/tree') return send(res, 200, await stepTree(repo, steps, step));
        if (p === '/api/blob') return send(res, 200, await stepFile(repo, step, param('path')));
        return send(res, 200, await stepChanges(repo, steps, step, race ? race.base.tree : null));
      }
      default:
        throw new HttpError(404, `no such page: ${p}`);
    }
  }

  async function bootFor(isStatic: boolean): Promise<Boot> {
    const race = raceId ? currentRace() : null;
    return {
      mode: race ? 'race' : 'worktree',
      static: isStatic,
      token,
      race,
      index: race ? indexOf(await cache.get(repo, race)) : null,
      files: null,
      steps: null,
      worktree: race ? race.worktree : repo.worktree,
      stepChanges: null,
    };
  }

  async function pick(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send JSON (Content-Type: application/json)');
    const body = await readBody(req, 64 * 1024);
    let name: unknown;
    try {
      name = (JSON.parse(body) as { attempt?: unknown }).attempt;
    } catch {
      throw new HttpError(400, 'the body is not JSON');
    }
    if (typeof name !== 'string' || !name) throw new HttpError(400, 'missing "attempt"');
    const attempt = name;
    // One pick at a time; pickAttempt takes the worktree lock as well.
    const run = picking.then(() => pickAttempt(currentRace(), attempt, { mode: 'apply' }));
    picking = run.catch(() => undefined);
    send(res, 200, await run);
  }

  function refuse(req: http.IncomingMessage, url: URL): string | null {
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return `wrong Host ${JSON.stringify(host)}`;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://127.0.0.1:${port}` && origin !== `http://localhost:${port}`) return `wrong Origin ${JSON.stringify(origin)}`;
    if (req.headers['sec-fetch-site'] === 'cross-site') return 'cross-site request';
    const given = url.searchParams.get('token') ?? headerValue(req.headers['x-ckpt-token']) ?? '';
    const buf = Buffer.from(given);
    if (buf.length !== tokenBuf.length || !timingSafeEqual(buf, tokenBuf)) return 'missing or wrong token (use the URL the command printed)';
    return null;
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, err));
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CkptError('INVALID_ARGUMENT', `cannot listen on 127.0.0.1:${opts.port ?? 0}: ${err.code ?? err.message}`, { hint: 'Choose another --port, or leave it out for a free one.', cause: err })),
    );
    server.listen({ host: '127.0.0.1', port: opts.port ?? 0 }, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  if (opts.open) {
    try {
      const { default: open } = await import('open');
      await open(url);
    } catch {
      // no browser here: the URL is printed by the caller
    }
  }
  return {
    url,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function send(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendPage(res: http.ServerResponse, boot: Boot): void {
  const nonce = randomBytes(16).toString('base64url');
  const html = renderPage(boot, nonce);
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Security-Policy': contentSecurityPolicy(nonce, true), 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html) });
  res.end(html);
}

function sendError(res: http.ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof HttpError) return send(res, err.status, { error: { code: err.status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: err.message } });
  if (isCkptError(err)) return send(res, statusOf(err), { error: err.toJSON() });
  const message = err instanceof Error ? err.message : String(err);
  send(res, 500, { error: { code: 'INTERNAL', message, hint: 'This is a bug in ckpt; please report it.' } });
}

/** HTTP status for a CkptError. */
export function statusOf(err: CkptError): number {
  if (err.code === 'ATTEMPT_NOT_FOUND' || err.code === 'RACE_NOT_FOUND' || err.code === 'SNAPSHOT_NOT_FOUND' || err.code === 'PATH_NOT_FOUND') return 404;
  if (err.kind === 'user') return 400;
  if (err.kind === 'conflict') return 409;
  return 500;
}

function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new HttpError(413, 'body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
