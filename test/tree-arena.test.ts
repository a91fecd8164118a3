/**
 * The daemon's tree cache (snapshot/tree-arena.ts): every tree put in is
 * given back byte for byte, small ones packed into shared chunks and one
 * larger than a chunk in its own; a tree put twice keeps its first bytes;
 * a view given out stays valid after the arena is cleared.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TreeArena } from '../src/snapshot/tree-arena.js';

describe('the tree arena', () => {
  it('gives back every tree byte for byte, small and larger than a chunk, and forgets them all on clear', () => {
    const a = new TreeArena();
    const trees = new Map<string, Buffer>();
    for (let i = 0; i < 5000; i++) trees.set(`t${i}`, crypto.randomBytes(i % 997));
    trees.set('big', crypto.randomBytes((1 << 20) + 123));
    trees.set('empty', Buffer.alloc(0));
    for (const [oid, b] of trees) a.put(oid, b);
    a.put('t5', Buffer.from('other bytes'));
    expect(a.size).toBe(trees.size);
    expect(a.bytes).toBe([...trees.values()].reduce((n, b) => n + b.length, 0));
    for (const [oid, b] of trees) expect(a.get(oid)?.equals(b), oid).toBe(true);
    const view = a.get('t42')!;
    a.clear();
    expect(a.size).toBe(0);
    expect(a.has('t42')).toBe(false);
    expect(a.get('t42')).toBeUndefined();
    expect(view.equals(trees.get('t42')!)).toBe(true);
    a.put('again', Buffer.from('x'));
    expect(a.get('again')?.toString()).toBe('x');
  });
});
