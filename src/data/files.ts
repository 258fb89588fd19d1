// The file-access seam of the dataset readers: the readers see named files in one place and
// their bytes (gunzipped when they are gzip), never node:fs, so the browser can hand them dropped
// files. src/data/node_files.ts implements it on a directory.

export interface DataFiles {
  /** The place the files are in, for messages (a directory, or "dropped files"). */
  where: string;
  /** Names of the regular files there. */
  list(): string[];
  /** A file's full name, for messages. */
  path(name: string): string;
  /** What `name` is when it is there but not a regular file ('a FIFO (named pipe)', 'a directory', ...); null otherwise. Absent: only regular files can be there. */
  notFile?(name: string): string | null;
  /** The first `n` raw bytes of a file (fewer if it is shorter). */
  head(name: string, n: number): Uint8Array;
  /** The file's bytes, gunzipped if it starts with the gzip magic bytes. */
  read(name: string): Uint8Array;
}

/** True if these bytes start with the gzip magic (1f 8b). */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** DataFiles over named byte arrays already in memory (dropped files; tests). `gunzip` does .gz. */
export function memoryFiles(where: string, files: Map<string, Uint8Array>, gunzip: (bytes: Uint8Array, name: string) => Uint8Array): DataFiles {
  return {
    where,
    list: () => [...files.keys()],
    path: (name) => `${name} (${where})`,
    head: (name, n) => (files.get(name) ?? new Uint8Array(0)).subarray(0, n),
    read: (name) => {
      const b = files.get(name);
      if (!b) throw new Error(`${where}: no file ${name}`);
      return isGzip(b) ? gunzip(b, name) : b;
    },
  };
}
