/**
 * Running an installed hook command as an agent runs it (`sh -c COMMAND`,
 * the payload on stdin) with a module tracer, and git's own view of a
 * worktree to compare a step's tree with.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, tempDir } from './repo.js';

/** ckpt's package directory (bin/, dist/). */
const ROOT = path.resolve(path.dirname(CLI), '..');

/**
 * A preload (`--require`) recording every module the process loads, one URL a
 * line (`node:…` for built-ins), in the file `TRACE_OUT` names: CommonJS
 * `require`s through Module._load (the main module's included), ES module
 * imports through a resolve hook (module.register).
 */
export function tracer(): string {
  const file = path.join(tempDir('ckpt-trace-'), 'trace.cjs');
  const hooks = `import { appendFileSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.TRACE_OUT, r.url + '\\n'); return r; }`;
  fs.writeFileSync(
    file,
    [
      `const Module = require('node:module'); const { appendFileSync } = require('node:fs'); const { pathToFileURL } = require('node:url');`,
      `const load = Module._load;`,
      `Module._load = function (request, parent, isMain) {`,
      `  let id = request;`,
      `  try { id = Module.isBuiltin(request) ? (request.startsWith('node:') ? request : 'node:' + request) : pathToFileURL(Module._resolveFilename(request, parent, isMain)).href; } catch {}`,
      `  appendFileSync(process.env.TRACE_OUT, id + '\\n');`,
      `  return load.apply(this, arguments);`,
      `};`,
      `Module.register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`,
    ].join('\n'),
  );
  return file;
}

/** What one traced hook run gave: exit code, stdout and every module URL it resolved. */
export interface TracedRun {
  code: number;
  stdout: string;
  modules: string[];
}

/**
 * Runs `command` through `sh -c` in `cwd` with `stdin`, as an agent runs its
 * hook, under {@link tracer}. `CKPT_DAEMON_AUTOSTART=0` unless `env` says
 * otherwise (a test starts and stops its own daemons).
 */
export function runTraced(command: string, cwd: string, stdin: string, env: NodeJS.ProcessEnv = {}): Promise<TracedRun> {
  const out = path.join(tempDir('ckpt-trace-out-'), 'modules');
  fs.writeFileSync(out, '');
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', command], {
      cwd,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, CKPT_DAEMON_AUTOSTART: '0', ...env, TRACE_OUT: out, NODE_OPTIONS: `--require=${tracer()}` },
    });
    let stdout = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.on('error', reject);
    // (The tracer's own resolve hook, a data: URL naming TRACE_OUT, is left out.)
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, modules: fs.readFileSync(out, 'utf8').split('\n').filter((u) => u && !(u.startsWith('data:') && u.includes('TRACE_OUT'))) }));
    p.stdin.on('error', () => undefined);
    p.stdin.end(stdin);
  });
}

/** The modules of ckpt's own (bin/, dist/) a run resolved, relative to the package, sorted and unique. */
export function ckptModules(modules: string[]): string[] {
  return [...new Set(modules.filter((u) => u.startsWith('file:')).map((u) => path.relative(ROOT, new URL(u).pathname)))].sort();
}

