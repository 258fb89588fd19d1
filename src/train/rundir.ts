// A run directory: its files, a lock so two trainers never share one, and the refusal to start a
// fresh run over an old one unless asked to (Node only).
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureDir, removeStaleTemps, describeFsError, listDir, readFileChecked, removeFile } from '../util/fsx.js';
import { faultEnospc } from '../util/fault.js';

export const RUN_FILES = { log: 'log.jsonl', checkpoint: 'checkpoint.wrnckpt', summary: 'summary.json', curves: 'curves.png', samples: 'samples.png', lock: 'run.lock' } as const;

export class RunDirError extends Error {}

export class RunDir {
  readonly log: string;
  readonly checkpoint: string;
  readonly summary: string;
  readonly curves: string;
  private readonly lockPath: string;
  private locked = false;

  constructor(readonly dir: string) {
    this.log = join(dir, RUN_FILES.log);
    this.checkpoint = join(dir, RUN_FILES.checkpoint);
    this.summary = join(dir, RUN_FILES.summary);
    this.curves = join(dir, RUN_FILES.curves);
    this.lockPath = join(dir, RUN_FILES.lock);
  }

  /**
   * Make the directory and take its lock. A lock held by a live process is an error naming it; a
   * stale one (its process is gone: kill -9, a crash) is taken over; one from another host is an
   * error (whether its process lives cannot be told here). Leftover temporary files of a killed
   * writer are removed.
   */
  open(): this {
    ensureDir(this.dir, '--out');
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(this.lockPath, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw describeFsError(e, this.lockPath, 'taking the lock');
        const holder = readLock(this.lockPath);
        if (holder && holder.host !== hostname()) {
          // Whether a process on another machine (a shared file system) still runs cannot be told from here.
          throw new RunDirError(
            `run directory ${this.dir} is locked by process ${holder.pid} on host ${holder.host} (started ${holder.started}); this is ${hostname()}, which cannot tell whether that run is alive: ` +
              `if it is gone, delete ${this.lockPath}; otherwise wait for it or use another --out`,
          );
        }
        if (holder && alive(holder.pid) && holder.pid !== process.pid) {
          throw new RunDirError(`run directory ${this.dir} is in use by process ${holder.pid} (started ${holder.started}); wait for it, stop it, or use another --out`);
        }
        removeFile(this.lockPath, 'removing the stale lock'); // stale: its process is gone
        continue;
      }
      try {
        faultEnospc(RUN_FILES.lock);
        writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() }) + '\n');
      } catch (e) {
        // A lock that could not be written (a full disk) is not left behind empty.
        closeSync(fd);
        rmSync(this.lockPath, { force: true });
        throw describeFsError(e, this.lockPath, 'writing the lock');
      }
      closeSync(fd);
      this.locked = true;
      removeStaleTemps(this.dir, listDir(this.dir, '--out'));
      return this;
    }
    throw new RunDirError(`run directory ${this.dir}: could not take the lock ${this.lockPath}`);
  }

  /** The files of an earlier run here (log, checkpoint, summary), if any. */
  earlierRun(): string[] {
    return [RUN_FILES.log, RUN_FILES.checkpoint, RUN_FILES.summary].filter((f) => existsSync(join(this.dir, f)));
  }

  /** Delete an earlier run's files (for --force). */
  clear(): void {
    for (const f of [RUN_FILES.log, RUN_FILES.checkpoint, RUN_FILES.summary, RUN_FILES.curves]) removeFile(join(this.dir, f), 'removing the earlier run\'s');
  }

  close(): void {
    if (!this.locked) return;
    this.locked = false;
    rmSync(this.lockPath, { force: true });
  }
}

/** The lock's holder; null when it is torn or empty (its writer died while writing it). Unreadable (a directory, EACCES) is an error naming it. */
function readLock(path: string): { pid: number; host: string; started: string } | null {
  const bytes = readFileChecked(path, 'lock file');
  try {
    const v = JSON.parse(bytes.toString('utf8'));
    return Number.isInteger(v?.pid) && typeof v.host === 'string' ? v : null;
  } catch {
    return null; // torn or empty: its writer died while writing it
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

