// Scratch directories and byte comparison for the data tests.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A factory of fresh directories under one temporary root, removed after the file's tests. */
export function scratchDirs(prefix: string): (name?: string) => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let count = 0;
  return (name = 'd') => {
    const d = join(root, `${count++}`, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
}

export const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
