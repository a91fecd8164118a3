/** `race view` through the built CLI: the report file, and the server until SIGINT. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFakeRace } from './support/fake-race.js';
import { CLI, tempDir } from './support/repo.js';

describe('ckpt race diff --side-by-side', () => {
  it('prints the columns (no pager when stdout is not a terminal)', async () => {
    const { dir } = await makeFakeRace('cli0');
    const r = spawnSync(process.execPath, [CLI, '-C', dir, 'race', 'diff', '--side-by-side', 'claude', 'gemini'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', PAGER: 'false' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('@@ base 2 · ≠ differ: claude | gemini');
    expect(r.stdout).not.toContain('codex');
    expect(r.stdout).not.toMatch(/\x1b/);
  });
});

describe('ckpt race view', () => {
  it('--out writes the static report and exits', async () => {
    const { dir } = await makeFakeRace('cli1');
    const out = path.join(tempDir(), 'r.html');
    const r = spawnSync(process.execPath, [CLI, '-C', dir, 'race', 'view', '--out', out, '--json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ out, files: 5 });
    expect(fs.readFileSync(out, 'utf8')).toContain('"mode":"race"');
  });

  it('serves until SIGINT, printing the URL; --port is checked', async () => {
    const { dir, race } = await makeFakeRace('cli2');
    const child = spawn(process.execPath, [CLI, '-C', dir, 'race', 'view', '--no-open'], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/Ctrl-C to stop/.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const url = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(stdout)?.[1];
      expect(url).toBeTruthy();
      expect(stdout).toContain('viewing race cli2 at');
      const api = new URL(url!);
      api.pathname = '/api/race';
      const res = await fetch(api);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(race.id);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const bad = spawnSync(process.execPath, [CLI, '-C', dir, 'race', 'view', '--no-open', '--port', 'http'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('not a port number');
  });
});
