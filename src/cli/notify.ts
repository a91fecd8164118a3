/**
 * Desktop notifications: `notify-send` (libnotify, the freedesktop.org
 * notification spec) where it is on PATH; nothing elsewhere. Used by
 * `ckpt agents --watch` when an agent starts waiting for input.
 */
import { spawn } from 'node:child_process';
import which from 'which';

let found: string | null | undefined;

/**
 * Shows `title` and `body` as a desktop notification, if `notify-send` exists
 * (looked up once). Never waits and never fails: the notifier is started
 * detached, its output and errors dropped. Returns whether one was sent.
 */
export function notifyDesktop(title: string, body: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (found === undefined) found = which.sync('notify-send', { nothrow: true, path: env.PATH ?? '' });
  if (!found) return false;
  try {
    const child = spawn(found, ['--app-name=ckpt', title, body], { stdio: 'ignore', detached: true, env });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
