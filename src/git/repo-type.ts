/**
 * The shape of a resolved worktree, in a module of its own so that the git
 * layer's modules (the store, the shadow git dir, loose objects) can name it
 * without importing repository discovery (git/repo.ts), which itself opens
 * the store: one direction, no cycle.
 */
/** A worktree of a repository, resolved. All paths are absolute. */
export interface Repo {
  /** The worktree's top-level directory (real path). */
  worktree: string;
  /** The worktree's own git dir (`.git` or `.git/worktrees/<name>`). */
  gitDir: string;
  /** The common git dir shared by all worktrees (holds objects and refs). */
  commonDir: string;
  /** `sha1` or `sha256`. */
  objectFormat: 'sha1' | 'sha256';
  /** Stable id of this worktree: readable name plus a hash of its path. */
  id: string;
  /** The ref holding this worktree's snapshot chain, in ckpt's store (the shadow git dir), not the user's repository. */
  ref: string;
  /** Directory of ckpt's per-worktree state. */
  stateDir: string;
  /** The user's index file of this worktree (read, never written). */
  userIndex: string;
  /** Object id of "no object" in this repository's format. */
  zeroOid: string;
}

/** Prefix of every ref ckpt writes (in its own store). */
export const REF_PREFIX = 'refs/ckpt/';
/** Prefix of the per-worktree snapshot chains. */
export const WORKTREE_REF_PREFIX = 'refs/ckpt/wt/';

