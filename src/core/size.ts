/**
 * Sizes given by the user (`CKPT_MAX_FILE_SIZE=100MiB`, config
 * `snapshot.maxFileSize`), in bytes. A unit is required, as for durations:
 * `B`, decimal `kB` `MB` `GB` `TB` (powers of 1000) and binary `KiB` `MiB`
 * `GiB` `TiB` (powers of 1024), case-insensitive; `off` means no limit.
 */
import { CkptError } from './errors.js';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * Parses a size such as `100MiB`, `1.5 GB` or `512KiB` into bytes; `off`
 * (or `none`) gives null, meaning no limit.
 *
 * @param what names the setting in the error (`CKPT_MAX_FILE_SIZE`).
 * @throws CkptError `CONFIG_INVALID` for a bare number, an unknown unit, zero or a negative size.
 */
export function parseSize(text: string, what: string): number | null {
  const t = text.trim();
  if (/^(off|none)$/i.test(t)) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/.exec(t);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new CkptError('CONFIG_INVALID', `${what}: not a size: ${JSON.stringify(text)}`, {
      hint: 'Give a number with a unit, like 100MiB, 2GiB or 500MB, or "off" for no limit.',
      data: { setting: what, value: text },
    });
  }
  return bytes;
}

/** `2.0 GiB`, `150 MiB`, `12 KiB`, `800 B`: a size for people. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
