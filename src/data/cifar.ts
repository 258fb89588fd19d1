// Reader for the CIFAR-10 *binary* version (cifar-10-binary.tar.gz, extracted).
// Each record: 1 label byte, then 3072 pixel bytes as R, G, B planes of 32x32, row-major,
// which is already the CHW layout we train on, so records are copied verbatim.
import { closeSync, openSync, readSync } from 'node:fs';
import { describeFsError, listDir, notAFile, statPath } from '../util/fsx.js';
import { basename, join } from 'node:path';
import type { Dataset } from './dataset.js';
import { CIFAR10_CLASSES, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, CIFAR_WANTED as WANTED, CIFAR_RECORD_BYTES, CifarFormatError, IMAGE_CHANNELS, IMAGE_NUMEL, IMAGE_SIZE, cifarRecordCount, parseCifarBatch } from './cifar_format.js';

export type { Dataset };
export { IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_NUMEL, CIFAR_RECORD_BYTES, CIFAR10_CLASSES, CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE, CifarFormatError, parseCifarBatch, cifarRecordCount, readCifar10Files } from './cifar_format.js';

export interface LoadCifarOptions {
  /** How many of data_batch_1..5.bin to read (default 5), or the file names to read. */
  trainFiles?: number | string[];
  /** Keep at most this many training records (the first ones, in file order). */
  limit?: number;
  /** Keep at most this many test records (default: all). */
  testLimit?: number;
}

/**
 * Load CIFAR-10 from `dir` (synchronous). Throws CifarFormatError naming the file and the problem.
 * If `dir` holds a `cifar-10-batches-bin` folder (the tarball's top level), that folder is used.
 */
export function loadCifar10(dir: string, opts: LoadCifarOptions = {}): { train: Dataset; test: Dataset } {
  const trainNames = resolveTrainFiles(opts.trainFiles);
  const root = findRoot(dir);
  const expected = [...trainNames, CIFAR10_TEST_FILE];
  const missing = expected.filter((f) => !statPath(join(root, f), 'reading data file') && !notAFile(join(root, f)));
  if (missing.length > 0) {
    throw new CifarFormatError(
      `CIFAR-10 directory ${root} is missing ${missing.join(', ')}. Expected ${expected.join(', ')}: ${WANTED}.` + extraHint(root),
    );
  }
  // Check every file's size up front so a truncated file fails before minutes of reading.
  for (const f of expected) checkSize(join(root, f));
  const train = readRecords(trainNames.map((f) => join(root, f)), opts.limit, 'cifar10-train');
  const test = readRecords([join(root, CIFAR10_TEST_FILE)], opts.testLimit, 'cifar10-test');
  return { train, test };
}

function resolveTrainFiles(t: number | string[] | undefined): string[] {
  if (t === undefined) return CIFAR10_TRAIN_FILES;
  if (typeof t === 'number') {
    if (!Number.isInteger(t) || t < 1 || t > 5) throw new RangeError(`trainFiles must be an integer 1..5, got ${t}`);
    return CIFAR10_TRAIN_FILES.slice(0, t);
  }
  if (t.length === 0) throw new RangeError('trainFiles must name at least one file');
  return t;
}

function findRoot(dir: string): string {
  const st = statPath(dir, '--data');
  if (!st) {
    throw new CifarFormatError(`CIFAR-10 directory not found: ${dir}. Expected a directory holding ${WANTED}.`);
  }
  if (!st.isDirectory()) {
    const tarHint = /\.(tar\.gz|tgz|tar)$/i.test(dir) ? ` It looks like the archive itself: extract it (tar xzf ${basename(dir)}) and pass the extracted folder.` : '';
    throw new CifarFormatError(`CIFAR-10 path ${dir} is not a directory.${tarHint} Expected a directory holding ${WANTED}.`);
  }
  const entries = new Set(listDir(dir, 'listing the data directory'));
  if (!entries.has(CIFAR10_TEST_FILE) && entries.has('cifar-10-batches-bin')) {
    const inner = join(dir, 'cifar-10-batches-bin');
    if (statPath(inner, '--data')?.isDirectory()) return inner;
  }
  if (basename(dir.replace(/[\\/]+$/, '')) === 'cifar-10-batches-py' || (entries.has('data_batch_1') && !entries.has('data_batch_1.bin'))) {
    throw new CifarFormatError(
      `CIFAR-10 directory ${dir} holds the python-pickle version (data_batch_1 without .bin), which this reader does not parse. ` +
        `Download ${WANTED}.`,
    );
  }
  if (entries.has('cifar-10-batches-py') && !entries.has(CIFAR10_TEST_FILE)) {
    throw new CifarFormatError(`CIFAR-10 directory ${dir} holds cifar-10-batches-py, the python-pickle version, which this reader does not parse. Download ${WANTED}.`);
  }
  return dir;
}

function extraHint(dir: string): string {
  const entries = new Set(listDir(dir, 'listing the data directory'));
  if (entries.has('train.bin') || entries.has('coarse_label_names.txt')) return ' This looks like CIFAR-100 (train.bin/test.bin), not CIFAR-10.';
  return '';
}

function checkSize(file: string): number {
  const st = statPath(file, 'reading data file');
  if (!st) throw new CifarFormatError(`CIFAR-10 file ${file}: no such file${notAFile(file) ? ` (it is ${notAFile(file)})` : ''}.`);
  if (!st.isFile()) throw new CifarFormatError(`CIFAR-10 file ${file} is ${notAFile(file) ?? 'not a regular file'}, not a regular file.`);
  return cifarRecordCount(st.size, file);
}

function readRecords(files: string[], limit: number | undefined, name: string): Dataset {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  const counts = files.map(checkSize);
  let total = counts.reduce((a, b) => a + b, 0);
  if (limit !== undefined) total = Math.min(total, limit);
  const images = new Uint8Array(total * IMAGE_NUMEL);
  const labels = new Uint8Array(total);
  let n = 0;
  for (let fi = 0; fi < files.length && n < total; fi++) {
    const take = Math.min(counts[fi], total - n);
    const part = parseCifarBatch(readPrefix(files[fi], take * CIFAR_RECORD_BYTES), files[fi]);
    images.set(part.images, n * IMAGE_NUMEL);
    labels.set(part.labels, n);
    n += part.count;
  }
  return { images, labels, count: n, channels: IMAGE_CHANNELS, height: IMAGE_SIZE, width: IMAGE_SIZE, classes: [...CIFAR10_CLASSES], name };
}

// Read only what `limit` needs: a quick run should not read 150 MB.
function readPrefix(file: string, bytes: number): Uint8Array {
  const buf = new Uint8Array(bytes);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw describeFsError(e, file, 'reading data file');
  }
  try {
    let got = 0;
    while (got < bytes) {
      let n: number;
      try {
        n = readSync(fd, buf, got, bytes - got, got);
      } catch (e) {
        throw describeFsError(e, file, 'reading data file');
      }
      if (n === 0) throw new CifarFormatError(`CIFAR-10 file ${file} ended after ${got} bytes while reading ${bytes} (changed while reading?).`);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}
