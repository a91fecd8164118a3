/**
 * The pattern every command file follows: it exports a zod `schema` for its
 * arguments and options, a `register(parent, act)` that declares them to
 * commander, and a `run(ctx, input)` whose `input` is the schema's output
 * type. {@link Act} validates what commander parsed against the schema before
 * `run` is called, so no handler sees an unchecked string: a bad value is a
 * usage error (exit 2) and nothing runs.
 *
 * ```ts
 * export const schema = z.object({ keep: count(1).optional(), json: flag });
 * export function register(parent: Command, act: Act): void {
 *   parent.command('gc').option('--keep <n>', '…').option('--json', '…').action(act(schema, run));
 * }
 * export async function run(ctx: Ctx, input: z.output<typeof schema>): Promise<void> { … }
 * ```
 */
import type { Command } from 'commander';
import * as z from '../core/zod.js';
import { parseDuration } from '../core/duration.js';
import { durationText } from '../core/duration-schema.js';
import { CkptError, type ErrorCode } from '../core/errors.js';
import type { Ctx } from './context.js';

/** A command's handler: the exit code, or nothing for success. */
export type Run<S extends z.ZodType> = (ctx: Ctx, input: z.output<S>) => Promise<number | void>;

/** Turns a schema and its handler into a commander action (made by main.ts). */
export type Act = <S extends z.ZodType>(schema: S, run: Run<S>) => (...args: unknown[]) => Promise<void>;

/** A boolean flag (`--force`): commander gives `true` or nothing. */
export const flag = z.boolean().optional();

/** `--json` on every command. */
export const json = flag;

/**
 * A whole number typed on the command line (`--keep 3`), at least `min`
 * (and at most `max`): `abc`, `1.5`, `-1`, `` and `0` (when `min` ≥ 1) are
 * refused. `what` names it in the message (`port number`).
 */
export function count(min: number, max = Number.MAX_SAFE_INTEGER, what = 'whole number'): z.ZodType<number, string> {
  const open = max === Number.MAX_SAFE_INTEGER;
  const hint = `Give a whole number ${open ? `≥ ${min}` : `from ${min} to ${max}`}.`;
  return z.string().transform((s, ctx) => {
    const t = s.trim();
    const n = Number(t);
    // `-1` is a whole number, out of range: said so, not "not a whole number".
    if (!/^[+-]?\d+$/.test(t) || !Number.isSafeInteger(n)) {
      ctx.addIssue({ code: 'custom', message: `not a ${what}: ${JSON.stringify(s)}`, params: { hint } });
      return z.NEVER;
    }
    if (n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `${n} is out of range (${open ? `≥ ${min}` : `${min}–${max}`})`, params: { hint } });
      return z.NEVER;
    }
    return n;
  });
}

/** A non-empty text (`--message ""` is refused). */
export const text = z.string().refine((s) => s.trim() !== '', 'must not be empty');

/** Arguments (by their declared names) and options (by attribute name) of `cmd`, as commander parsed them. */
export function collectInput(cmd: Command): Record<string, unknown> {
  const input: Record<string, unknown> = { ...cmd.opts() };
  cmd.registeredArguments.forEach((arg, i) => {
    const v = cmd.processedArgs[i];
    if (v !== undefined) input[arg.name()] = v;
  });
  return input;
}

/** How the user spells an input key: `--max-parallel`, `<task>`. */
function spelling(cmd: Command, key: string): string {
  const opt = cmd.options.find((o) => o.attributeName() === key);
  if (opt) return opt.long ?? opt.short ?? key;
  const arg = cmd.registeredArguments.find((a) => a.name() === key);
  return arg ? `<${arg.name()}>` : key;
}

/**
 * Validates commander's result for `cmd` against `schema`.
 *
 * @throws CkptError `INVALID_ARGUMENT` (or `INVALID_DURATION` for a
 *   duration), naming the option as typed, the problem and a hint.
 */
export function parseInput<S extends z.ZodType>(schema: S, cmd: Command): z.output<S> {
  const input = collectInput(cmd);
  const res = schema.safeParse(input);
  if (res.success) return res.data;
  const issues = res.error.issues;
  const first = issues[0]!;
  const params = (first as { params?: { hint?: string; code?: ErrorCode } }).params ?? {};
  const key = typeof first.path[0] === 'string' ? first.path[0] : '';
  const where = key ? spelling(cmd, key) : cmd.name();
  const value = key ? input[key] : undefined;
  const message = issues
    .map((i) => {
      const k = typeof i.path[0] === 'string' ? spelling(cmd, i.path[0]) : cmd.name();
      return `${k}: ${i.message}`;
    })
    .join('; ');
  throw new CkptError(params.code ?? 'INVALID_ARGUMENT', message, {
    hint: params.hint ?? `See \`${commandPath(cmd)} --help\`.`,
    data: { option: where, ...(value === undefined ? {} : { value }) },
  });
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  // The race bin's root is named race too (cli/main.ts): `race run`, not `race race run`.
  if (names[0] === 'race' && names[1] === 'race') names.shift();
  return names.join(' ');
}

/** A duration with its unit (`300ms`, `5s`), as milliseconds; a bare number is refused (core/duration.ts). */
export const durationMs = durationText.transform((s) => parseDuration(s));
