// DataFiles on a directory, with node:fs and node:zlib (Node only). Every file-system error names
// the file and the operation (src/util/fsx.ts).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataFormatError } from './dataset.js';
import { isGzip, type DataFiles } from './files.js';
import { describeFsError, listDir, notAFile, readFileChecked } from '../util/fsx.js';

export function directoryFiles(dir: string): DataFiles {
  return {
    where: dir,
    // Regular files only. An entry that cannot be followed (a dangling link, a symlink loop) is
    // not a file, not an error here: notFile says what it is if a reader needs it.
    list: () =>
      listDir(dir, 'listing the data directory').filter((n) => {
        try {
          return statSync(join(dir, n)).isFile();
        } catch {
          return false;
        }
      }),
    path: (name) => join(dir, name),
    notFile: (name) => notAFile(join(dir, name)),
    head: (name, n) => {
      const path = join(dir, name);
      const buf = new Uint8Array(n);
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        throw describeFsError(e, path, 'reading data file');
      }
      try {
        return buf.subarray(0, readSync(fd, buf, 0, n, 0));
      } catch (e) {
        throw describeFsError(e, path, 'reading data file');
      } finally {
        closeSync(fd);
      }
    },
    read: (name) => {
      const path = join(dir, name);
      const raw = readFileChecked(path, 'reading data file');
      if (!isGzip(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      try {
        const out = gunzipSync(raw);
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      } catch (e) {
        throw new DataFormatError(`file ${path} starts like gzip but does not decompress (${(e as Error).message}); expected a complete .gz file`);
      }
    },
  };
}
