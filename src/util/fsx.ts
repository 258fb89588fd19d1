// File-system helpers every writer uses (Node only): one atomic write, one safe mkdir, and errors
// that name the path and what is wrong instead of a raw system error.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, resolve, parse, join, sep } from 'node:path';
import { faultEnospc, faultPoint } from './fault.js';

/** A file-system problem with a path: one line, no stack trace needed. */
export class PathError extends Error {
  override name = 'PathError';
}

const WHY: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'is a directory, expected a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'already exists',
  ENOENT: 'no such file or directory',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

/** `what path: reason` for a Node system error (falls back to its message). */
export function describeFsError(e: unknown, path: string, what = 'path'): PathError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why = (code && WHY[code]) ?? (e as Error)?.message ?? String(e);
  return new PathError(`${what} ${path}: ${why}${code && WHY[code] ? ` (${code})` : ''}`);
}

/**
 * mkdir -p without Node's recursive mkdir, which loops forever under /proc (Node 20): each
 * missing component is made on its own, and any failure names the path. `what` names the flag.
 */
export function ensureDir(path: string, what = 'directory'): void {
  if (path === '') throw new PathError(`${what}: the path is empty; expected a directory name`);
  const abs = resolve(path);
  const root = parse(abs).root;
  let cur = root;
  for (const part of abs.slice(root.length).split(sep).filter(Boolean)) {
    cur = join(cur, part);
    let st;
    try {
      st = statSync(cur, { throwIfNoEntry: false });
    } catch (e) {
      throw describeFsError(e, path, what);
    }
    if (st) {
      if (!st.isDirectory()) throw new PathError(`${what} ${path}: ${cur} is a file, not a directory`);
      continue;
    }
    try {
      mkdirSync(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(cur).isDirectory()) continue; // made meanwhile
      throw describeFsError(e, path, what);
    }
  }
  // Under /proc and /sys a directory can exist and still refuse files: probe now, not mid-run.
  if (/^\/(proc|sys)(\/|$)/.test(abs)) throw new PathError(`${what} ${path}: is on a kernel file system (/proc, /sys), which cannot hold files`);
}

/**
 * Write `path` atomically (temporary file, fsync, rename): readers see the old file or the whole
 * new one. A failed write (a full disk, say) removes its temporary file and names the path.
 */
export function writeFileAtomic(path: string, chunks: Uint8Array[] | Uint8Array | string): void {
  const list = typeof chunks === 'string' ? [new TextEncoder().encode(chunks)] : chunks instanceof Uint8Array ? [chunks] : chunks;
  ensureDir(dirname(path), 'directory');
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    const name = basename(path);
    list.forEach((c, i) => {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd!, c, off);
      if (i === Math.floor(list.length / 2)) {
        faultPoint(`mid-write:${name}`);
        faultEnospc(name);
      }
    });
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    faultPoint(`before-rename:${name}`);
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing: the write's error is the one to report
      }
    }
    rmSync(tmp, { force: true });
    throw describeFsError(e, path, 'writing');
  }
}

/** Remove `name.tmp-PID` files a killed writer left in `dir` (their writes never completed). */
export function removeStaleTemps(dir: string, names: string[]): void {
  for (const n of names) if (/\.tmp(-\d+)?$/.test(n)) rmSync(join(dir, n), { force: true });
}

