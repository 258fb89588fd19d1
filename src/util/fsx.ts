// File-system helpers every writer and reader uses (Node only): one atomic write, one safe mkdir,
// whole-line appends, and one function, describeFsError, through which every file-system error
// the CLI prints goes: it names the operation, the path and what is wrong, never a raw system error.
import { closeSync, linkSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, accessSync, constants, type Stats } from 'node:fs';
import { basename, dirname, resolve, parse, join, sep } from 'node:path';
import { faultEnospc, faultPoint } from './fault.js';

/** A file-system problem with a path: one line, no stack trace needed. `code` is the system's (ENOSPC, ...), if any. */
export class PathError extends Error {
  override name = 'PathError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const WHY: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system',
  EISDIR: 'is a directory, expected a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'already exists',
  ENOENT: 'no such file or directory',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many levels of symbolic links (a symlink loop)',
  ENXIO: 'no such device or address (a socket, or a FIFO nobody writes to)',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'resource busy',
  ETXTBSY: 'text file busy',
  ENOTEMPTY: 'directory not empty',
  EXDEV: 'on another file system',
  EIO: 'input/output error',
};

/** Node's names of system calls, as the operation a message names. */
const OPERATION: Record<string, string> = {
  open: 'opening',
  read: 'reading',
  write: 'writing',
  fsync: 'writing',
  ftruncate: 'writing',
  close: 'closing',
  stat: 'reading',
  lstat: 'reading',
  fstat: 'reading',
  scandir: 'listing the directory',
  opendir: 'listing the directory',
  mkdir: 'creating the directory',
  rmdir: 'removing',
  rm: 'removing',
  unlink: 'removing',
  rename: 'renaming',
  access: 'accessing',
  realpath: 'resolving',
  readlink: 'resolving',
  copyfile: 'copying',
  symlink: 'linking',
  link: 'linking',
  chmod: 'changing the mode of',
  utime: 'touching',
};

/** The system error code of `e` (Node's ERR_FS_EISDIR, from rm, is EISDIR), or undefined. */
function errnoOf(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string') return undefined;
  return code === 'ERR_FS_EISDIR' ? 'EISDIR' : code;
}

/** `reason (CODE)` for a system error: the table's words, or the system's text without Node's repetition of the call and the path. */
export function fsReason(e: unknown): string {
  const code = errnoOf(e);
  const known = code ? WHY[code] : undefined;
  if (known) return `${known} (${code})`;
  const msg = (e as Error)?.message ?? String(e);
  // "ECODE: text, syscall 'path'" -> "text (ECODE)"
  const text = msg.replace(/^[A-Z][A-Z0-9_]*: /, '').replace(/, \w+ '.*'( -> '.*')?$/, '');
  return code && /^E[A-Z0-9]+$/.test(code) ? `${text} (${code})` : text;
}

/**
 * `what path: reason (CODE)` for a system error: `what` names the operation or the file's role
 * ('reading', 'writing', '--out', 'checkpoint', ...). The one function every file-system error
 * the CLI prints goes through (printableError sends the ones no caller described here too).
 */
export function describeFsError(e: unknown, path: string, what = 'path'): PathError {
  if (e instanceof PathError) return e;
  return new PathError(`${what} ${path}: ${fsReason(e)}`, errnoOf(e));
}

/**
 * Any error, ready to print: a system error that reached the top without being described (a
 * raw ENOENT, EACCES, ELOOP, ...) goes through describeFsError with the operation and the path
 * the system reported; anything else is returned as it is.
 */
export function printableError(e: unknown): unknown {
  if (e instanceof PathError || !(e instanceof Error)) return e;
  const x = e as NodeJS.ErrnoException & { dest?: string; info?: { syscall?: string; path?: string } };
  const syscall = x.syscall ?? x.info?.syscall;
  if (typeof syscall !== 'string' || !errnoOf(e)) return e;
  const path = x.path ?? x.info?.path;
  const op = OPERATION[syscall] ?? syscall;
  return describeFsError(e, path ? String(path) + (x.dest ? ` -> ${x.dest}` : '') : '(a file the system did not name)', op);
}

/**
 * stat `path`, or null when nothing is there (ENOENT; ENOTDIR: a part of the path is a file). Any
 * other failure (EACCES on a directory above it, a symlink loop) is an error naming the path,
 * never taken for "missing".
 */
export function statPath(path: string, what = 'path'): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw describeFsError(e, path, what);
  }
}

/** What a path that exists is, when it is not a regular file ('a directory', 'a FIFO', 'a broken symbolic link', ...); null for a regular file or nothing. */
export function notAFile(path: string): string | null {
  let l: Stats;
  try {
    l = lstatSync(path);
  } catch (e) {
    return errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR' ? null : `unreadable: ${fsReason(e)}`;
  }
  let st: Stats = l;
  if (l.isSymbolicLink()) {
    try {
      st = statSync(path);
    } catch (e) {
      return errnoOf(e) === 'ENOENT' ? 'a symbolic link to nothing (its target does not exist)' : `a symbolic link that cannot be followed: ${fsReason(e)}`;
    }
  }
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The bytes of the regular file at `path` (`what` names it in errors: 'reading', 'checkpoint',
 * ...). A directory, a FIFO or a device is refused before it is opened (reading a FIFO would wait
 * forever); a missing or unreadable file is an error naming the path.
 */
export function readFileChecked(path: string, what = 'reading'): Buffer {
  const st = statPath(path, what);
  if (!st) throw new PathError(`${what} ${path}: no such file`, 'ENOENT');
  if (!st.isFile()) throw new PathError(`${what} ${path}: is ${notAFile(path) ?? 'not a regular file'}, expected a regular file`, st.isDirectory() ? 'EISDIR' : undefined);
  try {
    return readFileSync(path);
  } catch (e) {
    throw describeFsError(e, path, what);
  }
}

/** The names in directory `dir`; errors name it. */
export function listDir(path: string, what = 'listing the directory'): string[] {
  try {
    return readdirSync(path);
  } catch (e) {
    throw describeFsError(e, path, what);
  }
}

/** rm -f a file; errors (a directory in its place, permissions) name it. */
export function removeFile(path: string, what = 'removing'): void {
  try {
    rmSync(path, { force: true });
  } catch (e) {
    throw describeFsError(e, path, what);
  }
}

/**
 * mkdir -p without Node's recursive mkdir, which loops forever under /proc (Node 20): each
 * missing component is made on its own, and any failure names the path. `what` names the flag.
 * The directory must also be writable: a read-only --out fails here, not at the first file.
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
      if (!st.isDirectory()) throw new PathError(`${what} ${path}: ${cur} is a file, not a directory`, 'ENOTDIR');
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
  try {
    accessSync(abs, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw describeFsError(e, path, what);
  }
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

/**
 * Create `path` with `text` only if it does not exist, atomically (a whole temporary file, then a
 * hard link, which fails if the name is taken): of several processes racing, exactly one creates
 * it, and no reader sees it half written. True if this call created it.
 */
export function createFileExclusive(path: string, text: string): boolean {
  const tmp = `${path}.new-${process.pid}`;
  writeFileAtomic(tmp, text);
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw describeFsError(e, path, 'creating');
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Append `text` to `path` whole or not at all: a failed append (a full disk) truncates the file
 * back to its length before, so a log never ends in a torn line. Errors name the path.
 */
export function appendWhole(path: string, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let fd: number;
  try {
    fd = openSync(path, 'a');
  } catch (e) {
    throw describeFsError(e, path, 'writing');
  }
  let start = -1;
  try {
    start = fstatSync(fd).size;
    const half = bytes.byteLength >> 1;
    let off = 0;
    while (off < half) off += writeSync(fd, bytes, off, half - off);
    faultEnospc(basename(path)); // tests: a disk that fills up mid-line
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off);
  } catch (e) {
    try {
      if (start >= 0) ftruncateSync(fd, start);
    } catch {
      // already failing: the write's error is the one to report
    }
    throw describeFsError(e, path, 'writing');
  } finally {
    try {
      closeSync(fd);
    } catch {
      // nothing more to lose
    }
  }
}

/** Remove `name.tmp-PID` files a killed writer left in `dir` (their writes never completed). */
export function removeStaleTemps(dir: string, names: string[]): void {
  for (const n of names) if (/\.tmp(-\d+)?$/.test(n)) removeFile(join(dir, n));
}
