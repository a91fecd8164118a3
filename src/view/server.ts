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
 * Errors are `{"error": {code, message, hint, data}}`, the shape `--json`
 * prints (`CkptError.toJSON()`), with a code from the registry
 * (core/errors.ts) and the HTTP status {@link statusOf} gives it: 403
 * `FORBIDDEN`; 400 `INVALID_ARGUMENT` (a parameter missing, a body that is not
 * JSON); 404 `NOT_FOUND` (no such route) and the `*_NOT_FOUND` codes; 405
 * `METHOD_NOT_ALLOWED`; 413 `BODY_TOO_LARGE`; 415 `UNSUPPORTED_MEDIA_TYPE`;
 * 409 for refusals (`PICK_WOULD_CLOBBER`, `LOCKED`); 500 otherwise
 * (`INTERNAL` for anything that is not a CkptError).
 */
import { agentsOverview, type OverviewCache } from '../agents/overview.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CkptError, isCkptError, type ErrorCode } from '../core/errors.js';
import type { Repo } from '../git/repo.js';
import { attemptDiffs, findAttempt } from '../race/compare.js';
import { pickAttempt } from '../race/pick.js';
import { loadRace } from '../race/store.js';
import type { RaceRecord } from '../race/types.js';
import { ComparisonCache, fileOf, findStep, indexOf, stepChanges, stepFile, stepsOf, stepTree } from './data.js';
import { contentSecurityPolicy, renderPage } from './page.js';
import type { AgentsAnswer, Boot, ErrorAnswer, PickAnswer } from './wire.js';

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
  const agentsCache: OverviewCache = new Map();
  let port = 0;
  let picking: Promise<unknown> = Promise.resolve();

  const currentRace = (): RaceRecord => {
    if (!raceId) throw new CkptError('NOT_FOUND', 'this viewer shows a worktree, not a race', { hint: 'Race pages are served by `race view`.' });
    return loadRace(repo, raceId);
  };
  const timelineRace = (attempt: string | null): RaceRecord | null => (attempt === null ? null : currentRace());

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const refusal = refuse(req, url);
    if (refusal) throw new CkptError('FORBIDDEN', refusal, { hint: 'Open the URL the command printed: it carries the token.' });
    const p = url.pathname;
    const param = (name: string): string => {
      const v = url.searchParams.get(name);
      if (v === null || v === '') throw new CkptError('INVALID_ARGUMENT', `missing parameter ${name}`, { hint: `Add ?${name}=… to the request.`, data: { parameter: name } });
      return v;
    };
    const attemptParam = (): string | null => {
      const a = url.searchParams.get('attempt');
      if (a === null) {
        if (raceId) throw new CkptError('INVALID_ARGUMENT', 'missing parameter attempt', { hint: 'Add ?attempt=NAME to the request: a race viewer shows several timelines.', data: { parameter: 'attempt' } });
        return null;
      }
      return a;
    };
    if (req.method === 'POST' && p === '/api/pick') return pick(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new CkptError('METHOD_NOT_ALLOWED', `${req.method} not allowed on ${p}`, { hint: 'Only GET and HEAD are served here; picking is POST /api/pick.', data: { method: req.method ?? null, path: p } });
    }
    switch (p) {
      case '/':
      case '/index.html':
        return sendPage(res, await bootFor(false));
      case '/api/pick':
        throw new CkptError('METHOD_NOT_ALLOWED', `${req.method} not allowed on ${p}`, { hint: 'Pick with POST and {"attempt": NAME} as application/json.', data: { method: req.method ?? null, path: p } });
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
      case '/api/agents':
        // Every worktree's agent and state (`ckpt agents`), for the page's "who is waiting" panel.
        return send(res, 200, { agents: await agentsOverview(repo, { cache: agentsCache }) } satisfies AgentsAnswer);
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
        throw new CkptError('NOT_FOUND', `no such page: ${p}`, { hint: 'The routes are listed in docs/viewer.md.', data: { path: p } });
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
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      throw new CkptError('UNSUPPORTED_MEDIA_TYPE', 'send JSON (Content-Type: application/json)', { hint: 'POST /api/pick takes {"attempt": NAME} as application/json.', data: { contentType: req.headers['content-type'] ?? null } });
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    let name: unknown;
    try {
      name = (JSON.parse(body) as { attempt?: unknown }).attempt;
    } catch {
      throw new CkptError('INVALID_ARGUMENT', 'the body is not JSON', { hint: 'POST /api/pick takes {"attempt": NAME}.' });
    }
    if (typeof name !== 'string' || !name) throw new CkptError('INVALID_ARGUMENT', 'missing "attempt"', { hint: 'POST /api/pick takes {"attempt": NAME}.', data: { parameter: 'attempt' } });
    const attempt = name;
    // One pick at a time; pickAttempt takes the worktree lock as well.
    const run = picking.then(() => pickAttempt(currentRace(), attempt, { mode: 'apply' }));
    picking = run.catch(() => undefined);
    const answer: PickAnswer = await run;
    send(res, 200, answer);
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
  const e = isCkptError(err)
    ? err
    : new CkptError('INTERNAL', err instanceof Error ? err.message : String(err), { hint: 'This is a bug in ckpt; please report it.', cause: err });
  const answer: ErrorAnswer = { error: e.toJSON() };
  // A body left unread (too large) must not keep the connection for the next request.
  if (e.code === 'BODY_TOO_LARGE') res.setHeader('Connection', 'close');
  send(res, statusOf(e), answer);
}

/** HTTP statuses of the codes that have their own; the others go by their kind (see {@link statusOf}). */
const STATUS_OF_CODE: Partial<Record<ErrorCode, number>> = {
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ATTEMPT_NOT_FOUND: 404,
  RACE_NOT_FOUND: 404,
  SNAPSHOT_NOT_FOUND: 404,
  PATH_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

/**
 * HTTP status for a CkptError: its code's own (403, 404, 405, 413, 415),
 * else by kind: `user` 400, `conflict` 409, `environment` and `internal` 500.
 */
export function statusOf(err: CkptError): number {
  const own = STATUS_OF_CODE[err.code];
  if (own !== undefined) return own;
  if (err.kind === 'user') return 400;
  if (err.kind === 'conflict') return 409;
  return 500;
}

/** The largest request body read (POST /api/pick), in bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The request body as text, at most `max` bytes. Past that it rejects with
 * `BODY_TOO_LARGE` and drops the rest of the body as it comes, so the 413
 * answer still reaches the client (destroying the request here would close
 * the socket before the answer is written); that answer closes the connection.
 */
function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > max) {
        tooLarge = true;
        chunks.length = 0;
        reject(new CkptError('BODY_TOO_LARGE', `body over ${max} bytes`, { hint: 'POST /api/pick takes {"attempt": NAME}.', data: { maxBytes: max } }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
