/**
 * The parts of zod ckpt uses, as named exports, for `import * as z from
 * '…/core/zod.js'`. Importing zod's own `z` namespace pulls all of it into
 * the bundle (755 KB, 90-250 ms to load here under load); named imports let
 * esbuild keep only what the option and config schemas need (~170 KB).
 */
export { array, boolean, enum, NEVER, number, object, record, string, union } from 'zod';
export type { infer, output, RefinementCtx, ZodType } from 'zod';
