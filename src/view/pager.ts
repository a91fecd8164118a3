/**
 * Showing long output through a pager, as git does: only when stdout is a
 * terminal and the text is taller than the screen; `$PAGER` (default
 * `less -R`) run without a shell, `LESS=FRX` when `LESS` is unset. A pager
 * that cannot start falls back to writing the text directly.
 *
 * This is terminal I/O: the CLI calls it (the library's other functions never print).
 */
import { spawn } from 'node:child_process';

/** Options of {@link page}. */
export interface PageOptions {
  /** False: never page (`--no-pager`). Default true. */
  enabled?: boolean;
  /** Where to write. Default `process.stdout`. */
  stdout?: NodeJS.WriteStream;
  /** Environment to read `PAGER`/`LESS` from and run the pager with. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The pager command as argv: `$PAGER` split on blanks, `less -R` by default; null for `cat` or an empty `PAGER`. */
export function pagerCommand(env: NodeJS.ProcessEnv): string[] | null {
  const raw = env.PAGER === undefined ? 'less -R' : env.PAGER;
  const argv = raw.trim().split(/\s+/).filter(Boolean);
  if (argv.length === 0 || argv[0] === 'cat') return null;
  return argv;
}

/** Whether `text` should go through a pager on `stdout`. */
export function shouldPage(text: string, stdout: Pick<NodeJS.WriteStream, 'isTTY' | 'rows'>): boolean {
  if (!stdout.isTTY) return false;
  const rows = stdout.rows ?? 24;
  let lines = 0;
  for (let i = text.indexOf('\n'); i >= 0 && lines <= rows; i = text.indexOf('\n', i + 1)) lines++;
  return lines > rows - 1;
}

/**
 * Writes `text` to stdout, through the pager when {@link shouldPage} says so.
 * Resolves once the pager exits (or the text is written). Never rejects.
 */
export async function page(text: string, opts: PageOptions = {}): Promise<void> {
  const stdout = opts.stdout ?? process.stdout;
  const env = opts.env ?? process.env;
  const argv = pagerCommand(env);
  if (opts.enabled === false || !argv || !shouldPage(text, stdout)) {
    await writeAll(stdout, text);
    return;
  }
  const ok = await new Promise<boolean>((resolve) => {
    let started = false;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'inherit', 'inherit'], env: { ...env, LESS: env.LESS ?? 'FRX', LV: env.LV ?? '-c' } });
    child.on('spawn', () => {
      started = true;
      child.stdin.on('error', () => undefined); // the user quit the pager early
      child.stdin.end(text);
    });
    child.on('error', () => resolve(started));
    child.on('close', () => resolve(true));
  });
  if (!ok) await writeAll(stdout, text);
}

function writeAll(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    try {
      stream.write(text, () => resolve());
    } catch {
      resolve(); // a closed pipe: nothing more to say
    }
  });
}
