/** Counts in messages: a number and its noun, singular for one ("1 step", "2 steps"), never "step(s)". */

/**
 * The noun for `n` of it: `one` when `n` is 1, else `many` (`one` + `s`
 * unless given: `noun(2, 'process', 'processes')`).
 */
export function noun(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/** `n` and its noun: `counted(1, 'step')` is `1 step`, `counted(0, 'file')` is `0 files` (plural as {@link noun}). */
export function counted(n: number, one: string, many?: string): string {
  return `${n} ${noun(n, one, many)}`;
}
