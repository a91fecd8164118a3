/** cli/output.ts: the colour decision, and an Output whose stream fails reports it. */
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decideColor, Output } from '../src/cli/output.js';

describe('Output', () => {
  it('decides colour once: --color, then NO_COLOR, then FORCE_COLOR, then a terminal; CI plays no part', () => {
    const cases: [Parameters<typeof decideColor>, boolean][] = [
      [['auto', {}, false], false],
      [['auto', {}, true], true],
      [['auto', { CI: '1' }, false], false],
      [['auto', { TERM: 'dumb' }, true], false],
      [['auto', { NO_COLOR: '1' }, true], false],
      [['auto', { NO_COLOR: '' }, true], true],
      [['auto', { FORCE_COLOR: '1' }, false], true],
      [['auto', { FORCE_COLOR: '0' }, true], false],
      [['auto', { NO_COLOR: '1', FORCE_COLOR: '1' }, true], false],
      [['always', { NO_COLOR: '1' }, false], true],
      [['never', { FORCE_COLOR: '1' }, true], false],
    ];
    for (const [args, want] of cases) expect(decideColor(...args), JSON.stringify(args)).toBe(want);
  });

  it('quotes names, escapes texts, and without colour no control byte gets through a line', async () => {
    const chunks: Buffer[] = [];
    const stdout = new PassThrough();
    stdout.on('data', (b: Buffer) => chunks.push(b));
    const out = new Output({ json: false, color: 'never', stdout, stderr: new PassThrough() });
    out.line(`  D ${out.q('a\rb')} ${out.t('x\x1by')}`);
    out.line('forgot to quote \x1b[2K\r');
    expect(await out.flush()).toBeNull();
    expect(Buffer.concat(chunks).toString()).toBe('  D "a\\rb" x\\033y\nforgot to quote \\033[2K\\r\n');
  });

  it('a stream that fails (ENOSPC) is reported by flush, and nothing more is written to it', async () => {
    let writes = 0;
    const stdout = new Writable({
      write(_chunk, _enc, cb) {
        writes++;
        cb(Object.assign(new Error('no space'), { code: 'ENOSPC' }));
      },
    });
    const out = new Output({ json: true, stdout, stderr: new PassThrough() });
    out.result({ a: 1 });
    expect((await out.flush())?.code).toBe('ENOSPC');
    out.result({ b: 2 });
    expect(writes).toBe(1);
    expect(out.broken).toBe(true);
  });
});
