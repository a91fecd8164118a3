/** The web viewer's server: who may talk to it, its API on a fake race, pick, and the static report. */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/core/errors.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { writeReport } from '../src/view/report.js';
import { loadRace } from '../src/race/store.js';
import { makeFakeRace, type FakeRace } from './support/fake-race.js';
import { tempDir, write } from './support/repo.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function request(v: Viewer, pathAndQuery: string, opts: { method?: string; headers?: Record<string, string>; body?: string; token?: string | null } = {}): Promise<Reply> {
  const token = opts.token === undefined ? v.token : opts.token;
  const sep = pathAndQuery.includes('?') ? '&' : '?';
  const p = token === null ? pathAndQuery : `${pathAndQuery}${sep}token=${encodeURIComponent(token)}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: v.port, path: p, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${v.port}`, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

let fake: FakeRace;
let viewer: Viewer;

beforeAll(async () => {
  fake = await makeFakeRace('sec');
  viewer = await startViewer({ repo: fake.repo, race: fake.race });
});
afterAll(async () => {
  await viewer?.close();
});

describe('who may talk to the viewer', () => {
  it('listens on 127.0.0.1 with a random token in the URL', () => {
    expect(viewer.url).toBe(`http://127.0.0.1:${viewer.port}/?token=${viewer.token}`);
    expect(viewer.token.length).toBeGreaterThanOrEqual(32);
  });

  it('serves the page and the API with the right token, Host and Origin', async () => {
    const page = await request(viewer, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy'] ?? page.body).toMatch(/default-src 'none'/);
    expect((await request(viewer, '/api/race', { headers: { host: `localhost:${viewer.port}`, origin: `http://localhost:${viewer.port}` } })).status).toBe(200);
    expect((await request(viewer, '/api/race', { token: null, headers: { 'x-ckpt-token': viewer.token, origin: `http://127.0.0.1:${viewer.port}` } })).status).toBe(200);
  });

  it('refuses a missing or wrong token', async () => {
    for (const token of [null, '', 'x', viewer.token.slice(0, -1) + (viewer.token.endsWith('A') ? 'B' : 'A')]) {
      const r = await request(viewer, '/api/race', { token });
      expect(r.status).toBe(403);
      expect(r.json().error.code).toBe('FORBIDDEN');
      expect(r.body).not.toContain(fake.race.task);
    }
    expect((await request(viewer, '/', { token: null })).status).toBe(403);
  });

  it('refuses a wrong Host (DNS rebinding) and a foreign Origin', async () => {
    for (const host of ['evil.example:' + viewer.port, `127.0.0.1:${viewer.port + 1}`, '127.0.0.1', `[::1]:${viewer.port}`]) {
      expect((await request(viewer, '/api/race', { headers: { host } })).status).toBe(403);
    }
    for (const origin of ['http://evil.example', `http://127.0.0.1:${viewer.port + 1}`, 'null', `https://127.0.0.1:${viewer.port}`]) {
      expect((await request(viewer, '/api/race', { headers: { origin } })).status).toBe(403);
    }
    expect((await request(viewer, '/api/race', { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    const post = await request(viewer, '/api/pick', { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{"attempt":"claude"}' });
    expect(post.status).toBe(403);
    expect(loadRace(fake.repo, 'sec').picked).toBeNull();
  });
});

describe('the API', () => {
  it('returns the race record exactly as stored', async () => {
    expect((await request(viewer, '/api/race')).json()).toEqual(loadRace(fake.repo, 'sec'));
  });

  it('returns the comparison index and per-file models', async () => {
    const idx = (await request(viewer, '/api/compare')).json();
    expect(idx.attempts).toEqual(['claude', 'codex', 'gemini']);
    expect(idx.files.map((f: { path: string }) => f.path)).toEqual(['README.md', 'old.txt', 'src/extra.ts', 'src/math.ts', 'src/util.ts']);
    expect(idx.files[0]).not.toHaveProperty('hunks');
    const math = (await request(viewer, '/api/file?path=src%2Fmath.ts')).json();
    expect(math.hunks[0].variants.map((v: { attempts: string[] }) => v.attempts)).toEqual([['claude', 'codex'], ['gemini']]);
    expect((await request(viewer, '/api/file?path=nope')).status).toBe(404);
  });

  it("returns an attempt's diff, timeline, tree and files at a step", async () => {
    const diff = (await request(viewer, '/api/diff?attempt=codex')).json();
    expect(diff.attempt).toBe('codex');
    expect(diff.patch).toContain('+export const twice');
    const steps = (await request(viewer, '/api/steps?attempt=claude')).json();
    expect(steps.map((s: { kind: string }) => s.kind)).toEqual(['after', 'before', 'after', 'before', 'after', 'before', 'base']);
    expect(steps[0].tool).toBe('Edit');
    const first = steps.at(-2); // "before" the first edit: the base state
    const tree = (await request(viewer, `/api/tree?attempt=claude&step=${steps[0].id}`)).json();
    expect(tree.entries.map((e: { path: string }) => e.path)).toContain('src/extra.ts');
    expect(tree.entries[0]).toMatchObject({ path: 'README.md', change: 'M' });
    const blob = (await request(viewer, `/api/blob?attempt=claude&step=${first.id}&path=src%2Fmath.ts`)).json();
    expect(blob.text).toContain('return a - b;');
    const ch = (await request(viewer, `/api/step-changes?attempt=claude&step=${steps[0].id}`)).json();
    expect(ch.files.map((f: { path: string }) => f.path)).toEqual(['README.md']);
  });

  it('refuses steps of another chain, unknown attempts and paths outside the tree', async () => {
    const codexSteps = (await request(viewer, '/api/steps?attempt=codex')).json();
    expect((await request(viewer, `/api/tree?attempt=claude&step=${codexSteps[0].id}`)).status).toBe(404);
    expect((await request(viewer, '/api/steps?attempt=nobody')).json().error.code).toBe('ATTEMPT_NOT_FOUND');
    const steps = (await request(viewer, '/api/steps?attempt=claude')).json();
    for (const p of ['../etc/passwd', '.git/config', 'src', 'nope']) {
      const r = await request(viewer, `/api/blob?attempt=claude&step=${steps[0].id}&path=${encodeURIComponent(p)}`);
      expect(r.status).toBe(404);
    }
    expect((await request(viewer, '/api/nothing')).status).toBe(404);
    expect((await request(viewer, '/api/race', { method: 'PUT' })).status).toBe(405);
  });
});

describe('error answers', () => {
  /** Checks `r` is a `{error: {code, message, hint, data}}` answer with `status` and a registered `code`. */
  function expectError(r: Reply, status: number, code: string): void {
    expect({ status: r.status, code: r.json().error?.code }).toEqual({ status, code });
    const e = r.json().error;
    expect(Object.keys(ERROR_CODES)).toContain(e.code);
    expect(typeof e.message).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
    expect(typeof e.hint).toBe('string');
    expect(e.data).toBeTypeOf('object');
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  }
  const json = { 'content-type': 'application/json' };

  it('gives every refusal and bad request a registered code, a message and a hint', async () => {
    expectError(await request(viewer, '/api/race', { token: null }), 403, 'FORBIDDEN');
    expectError(await request(viewer, '/api/race', { token: 'x'.repeat(viewer.token.length) }), 403, 'FORBIDDEN');
    expectError(await request(viewer, '/api/file'), 400, 'INVALID_ARGUMENT');
    expect((await request(viewer, '/api/file')).json().error.data).toEqual({ parameter: 'path' });
    expectError(await request(viewer, '/api/steps'), 400, 'INVALID_ARGUMENT');
    expectError(await request(viewer, '/api/nothing'), 404, 'NOT_FOUND');
    expectError(await request(viewer, '/api/file?path=nope'), 404, 'PATH_NOT_FOUND');
    expectError(await request(viewer, '/api/steps?attempt=nobody'), 404, 'ATTEMPT_NOT_FOUND');
    expectError(await request(viewer, '/api/race', { method: 'PUT' }), 405, 'METHOD_NOT_ALLOWED');
    expectError(await request(viewer, '/api/pick'), 405, 'METHOD_NOT_ALLOWED');
    expectError(await request(viewer, '/api/pick', { method: 'POST', body: '{"attempt":"claude"}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await request(viewer, '/api/pick', { method: 'POST', headers: json, body: '{"attempt":' }), 400, 'INVALID_ARGUMENT');
    expectError(await request(viewer, '/api/pick', { method: 'POST', headers: json, body: '{"attempt":""}' }), 400, 'INVALID_ARGUMENT');
    expectError(await request(viewer, '/api/pick', { method: 'POST', headers: json, body: JSON.stringify({ attempt: 'claude', pad: 'x'.repeat(70 * 1024) }) }), 413, 'BODY_TOO_LARGE');
    // None of these picked anything.
    expect(loadRace(fake.repo, fake.race.id).picked).toBeNull();
  });

  it('answers a race route of a worktree viewer with NOT_FOUND', async () => {
    const v = await startViewer({ repo: fake.repo });
    try {
      expectError(await request(v, '/api/race'), 404, 'NOT_FOUND');
      expectError(await request(v, '/api/compare'), 404, 'NOT_FOUND');
    } finally {
      await v.close();
    }
  });
});

describe('pick', () => {
  it('refuses (409, nothing changed) when the user changed a file the winner changes', async () => {
    const { repo, race, dir } = await makeFakeRace('p1');
    const v = await startViewer({ repo, race });
    try {
      write(dir, { 'src/math.ts': 'my own work\n' });
      const body = JSON.stringify({ attempt: 'claude' });
      const refused = await request(v, '/api/pick', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(refused.status).toBe(409);
      expect(refused.json().error).toMatchObject({ code: 'PICK_WOULD_CLOBBER' });
      expect(refused.json().error.hint).toMatch(/Nothing was changed/);
      expect(fs.readFileSync(path.join(dir, 'src/math.ts'), 'utf8')).toBe('my own work\n');
      expect((await request(v, '/api/pick', { method: 'POST', body })).status).toBe(415);
      expect((await request(v, '/api/pick', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"attempt":"nobody"}' })).status).toBe(404);

    } finally {
      await v.close();
    }
  });

  it('applies the winner to the user worktree and records the pick', async () => {
    const { repo, race, dir, worktrees } = await makeFakeRace('p2');
    const v = await startViewer({ repo, race });
    try {
      const r = await request(v, '/api/pick', { method: 'POST', headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${v.port}` }, body: '{"attempt":"codex"}' });
      expect(r.status).toBe(200);
      const res = r.json();
      expect(res).toMatchObject({ race: 'p2', attempt: 'codex', mode: 'apply' });
      expect(res.changes.map((c: { path: string }) => c.path).sort()).toEqual(['README.md', 'src/math.ts', 'src/util.ts']);
      for (const f of ['README.md', 'src/math.ts', 'src/util.ts']) expect(fs.readFileSync(path.join(dir, f))).toEqual(fs.readFileSync(path.join(worktrees.codex!, f)));
      expect((await request(v, '/api/race')).json().picked).toMatchObject({ attempt: 'codex', mode: 'apply' });
    } finally {
      await v.close();
    }
  });
});

describe('worktree mode (ckpt view)', () => {
  it("serves one worktree's own steps and their changes", async () => {
    const v = await startViewer({ repo: fake.repo });
    try {
      const steps = (await request(v, '/api/steps')).json();
      expect(steps).toHaveLength(1);
      expect((await request(v, '/api/race')).status).toBe(404);
      const page = await request(v, '/');
      expect(page.body).toContain('"mode":"worktree"');
      const tree = (await request(v, `/api/tree?step=${steps[0].id}`)).json();
      expect(tree.entries.map((e: { path: string }) => e.path)).toContain('src/math.ts');
    } finally {
      await v.close();
    }
  });
});

describe('writeReport', () => {
  it('writes one self-contained HTML file with the data inlined and no outside reference', async () => {
    const out = path.join(tempDir(), 'report.html');
    const res = await writeReport({ repo: fake.repo, race: fake.race, out });
    expect(res).toMatchObject({ out, files: 5 });
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toContain('"static":true');
    expect(html).toContain('hljs');
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b[^>]*\b(src|href|data)=["'](?!data:)/i); // nothing loaded from anywhere
    // The task holds `<b>`: it must only appear escaped inside the data.
    expect(html).not.toContain('<b>and</b>');
    expect(html).toContain('\\u003cb\\u003eand');
  });
});
