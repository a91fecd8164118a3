/**
 * Requests to the viewer's local server (src/view/server.ts). Every request
 * carries the page's token in `X-Ckpt-Token`; a non-2xx answer becomes an
 * {@link ApiError} holding the server's `{code, message, hint}`.
 */
import type { ErrorAnswer, ErrorInfo } from '../wire.js';
import { h } from './dom.js';

/** What the page knows of a failure: the server's error, or one made up from the HTTP status. */
export interface FailureInfo {
  code: ErrorInfo['code'] | `HTTP_${number}`;
  message: string;
  hint?: string;
}

/** A request the server answered with an error. */
export class ApiError extends Error {
  constructor(
    readonly info: FailureInfo,
    /** The HTTP status. */
    readonly status: number,
  ) {
    super(info.message);
  }
}

/** `?k=v&…` for `params`, encoded. */
export function q(params: Record<string, string>): string {
  return '?' + new URLSearchParams(params).toString();
}

/** A typed GET or POST to the server; the answer's type is the route's (see src/view/wire.ts). */
export type Api = <T>(path: string, init?: RequestInit) => Promise<T>;

function isErrorAnswer(body: unknown): body is ErrorAnswer {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const e = body.error;
  return typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string';
}

/** The page's {@link Api}, sending `token`. @throws ApiError on a non-2xx answer. */
export function createApi(token: string | null): Api {
  return async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const headers = new Headers(init.headers);
    headers.set('X-Ckpt-Token', token ?? '');
    const res = await fetch(path, { ...init, headers });
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const info: FailureInfo = isErrorAnswer(body) ? body.error : { code: `HTTP_${res.status}`, message: res.statusText };
      throw new ApiError(info, res.status);
    }
    return body as T;
  };
}

/** What to show of any thrown value. */
export function failureOf(e: unknown): FailureInfo | { message: string; hint?: undefined } {
  if (e instanceof ApiError) return e.info;
  return { message: e instanceof Error ? e.message : String(e) };
}

/** The error box shown where a request failed. */
export function errorNotice(e: unknown): HTMLDivElement {
  const info = failureOf(e);
  return h('div', { class: 'notice bad' }, h('b', { text: 'Error: ' }), info.message, info.hint ? h('div', { class: 'meta', text: info.hint }) : null);
}
