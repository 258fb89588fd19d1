// DataFiles on a directory, with node:fs and node:zlib (Node only).
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataFormatError } from './dataset.js';
import { isGzip, type DataFiles } from './files.js';

export function directoryFiles(dir: string): DataFiles {
  return {
    where: dir,
    // statSync without throwing: a dangling link is not a file, not an error.
    list: () => readdirSync(dir).filter((n) => statSync(join(dir, n), { throwIfNoEntry: false })?.isFile() ?? false),
    path: (name) => join(dir, name),
    head: (name, n) => {
      const buf = new Uint8Array(n);
      const fd = openSync(join(dir, name), 'r');
      try {
        return buf.subarray(0, readSync(fd, buf, 0, n, 0));
      } finally {
        closeSync(fd);
      }
    },
    read: (name) => {
      const path = join(dir, name);
      const raw = readFileSync(path);
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
