/**
 * `ckpt hook claude`, run by Claude Code before and after each tool call. It
 * must be fast and must never block or fail the agent: it always exits 0,
 * prints nothing on stdout (Claude Code would read it), and appends its own
 * errors to `<git-common-dir>/ckpt/hook.log` (or stderr when there is no repo).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export async function runHook(args: string[]): Promise<number> {
  const agent = args[0];
  let input = '';
  try {
    input = await readStdin(5000);
  } catch {
    input = '';
  }
  let payload: Record<string, unknown> = {};
  try {
    payload = JSON.parse(input || '{}') as Record<string, unknown>;
  } catch (err) {
    report(null, `ckpt hook ${agent}: stdin is not JSON: ${String(err)}`);
    return 0;
  }
  if (agent !== 'claude') {
    report(null, `ckpt hook: unknown agent ${JSON.stringify(agent)} (known: claude)`);
    return 0;
  }
  try {
    const { handleClaudeHook } = await import('../../agents/claude.js');
    await handleClaudeHook(payload, process.cwd());
  } catch (err) {
    const e = err as { message?: string; code?: string };
    report(typeof payload.cwd === 'string' ? payload.cwd : process.cwd(), `${new Date().toISOString()} ckpt hook ${agent} ${String(payload.hook_event_name)} ${String(payload.tool_name)}: ${e.code ?? 'ERROR'} ${e.message ?? String(err)}`);
  }
  return 0;
}

function readStdin(timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    if (process.stdin.isTTY) return resolve('');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => resolve(Buffer.concat(chunks).toString('utf8')), timeoutMs);
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    process.stdin.on('error', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function report(cwd: string | null, line: string): void {
  if (cwd) {
    try {
      // Find the common git dir without spawning git: walk up to .git.
      let dir = cwd;
      for (;;) {
        const candidate = path.join(dir, '.git');
        if (existsSync(candidate)) {
          let common = candidate;
          if (statSync(candidate).isFile()) {
            const m = /^gitdir: (.*)$/m.exec(readFileSync(candidate, 'utf8'));
            if (m) {
              const gd = path.resolve(dir, m[1]!.trim());
              try {
                common = path.resolve(gd, readFileSync(path.join(gd, 'commondir'), 'utf8').trim());
              } catch {
                common = gd;
              }
            }
          }
          mkdirSync(path.join(common, 'ckpt'), { recursive: true });
          appendFileSync(path.join(common, 'ckpt', 'hook.log'), line + '\n');
          return;
        }
        const up = path.dirname(dir);
        if (up === dir) break;
        dir = up;
      }
    } catch {
      // fall through to stderr
    }
  }
  try {
    process.stderr.write(line + '\n');
  } catch {
    // nowhere to report
  }
}

