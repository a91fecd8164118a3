/**
 * Waiting in tests for a condition, never for a fixed time: the bound is one
 * only a real failure reaches on a loaded machine (CI shares 2 cores).
 */

/**
 * Resolves once `cond` holds, checking every 50 ms.
 *
 * @param what named in the error when the bound passes.
 * @param ms the bound, in ms (60 s unless given).
 * @throws Error `timed out after MS ms waiting for WHAT`.
 */
export async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !(await cond()); ) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
