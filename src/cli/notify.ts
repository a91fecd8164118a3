/**
 * Desktop notifications: `notify-send` (libnotify, the freedesktop.org
 * notification spec) where it is on PATH; nothing elsewhere. Used by
 * `ckpt agents --watch` when an agent starts waiting for input.
 */
import { spawn } from 'node:child_process';
import which from 'which';
import { quote } from '../core/quote.js';

let found: string | null | undefined;

/**
 * Shows `title` and `body` as a desktop notification, if `notify-send` exists
 * (looked up once); names in them are escaped like everything ckpt prints
 * (core/quote.ts), and the body's `&`, `<`, `>` too (the freedesktop.org
 * notification spec lets servers read the body as markup). Never waits and never fails: the notifier is started
 * detached, its output and errors dropped. Returns whether one was sent.
 */
export function notifyDesktop(title: string, body: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (found === undefined) found = which.sync('notify-send', { nothrow: true, path: env.PATH ?? '' });
  if (!found) return false;
  try {
    // Control bytes escaped (quote), and the body's markup characters too: notification servers read the body as markup.
    const markup = (t: string): string => quote(t, 'text').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const child = spawn(found, ['--app-name=ckpt', quote(title, 'text'), markup(body)], { stdio: 'ignore', detached: true, env });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
