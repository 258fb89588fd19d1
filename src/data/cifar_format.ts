// CIFAR-10 binary records as pure functions of bytes (no node:*): the Node reader (cifar.ts) and the
// browser page (dropped files, through the DataFiles seam) share the checks and the messages.
// Each record: 1 label byte, then 3072 pixel bytes as R, G, B planes of 32x32, row-major, which is
// already the CHW layout we train on, so records are copied verbatim.
import { DataFormatError, type Dataset } from './dataset.js';
import type { DataFiles } from './files.js';

/** CIFAR-10 images are 3 x 32 x 32. */
export const IMAGE_CHANNELS = 3;
export const IMAGE_SIZE = 32;
export const IMAGE_NUMEL = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE;
export const CIFAR_RECORD_BYTES = 1 + IMAGE_NUMEL;

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';

export const CIFAR_WANTED = 'the CIFAR-10 binary version, cifar-10-binary.tar.gz, extracted (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)';

export class CifarFormatError extends DataFormatError {
  override name = 'CifarFormatError';
}

/** Whole records in a file of `size` bytes; throws naming `file` when it is empty or not whole records. */
export function cifarRecordCount(size: number, file: string): number {
  if (size === 0) throw new CifarFormatError(`CIFAR-10 file ${file} is empty (0 bytes); records are ${CIFAR_RECORD_BYTES} bytes (1 label + ${IMAGE_NUMEL} pixels).`);
  if (size % CIFAR_RECORD_BYTES !== 0) {
    const whole = Math.floor(size / CIFAR_RECORD_BYTES);
    throw new CifarFormatError(
      `CIFAR-10 file ${file} is truncated or not CIFAR-10: its size, ${size} bytes, is not a multiple of the ` +
        `${CIFAR_RECORD_BYTES}-byte record (1 label + ${IMAGE_NUMEL} pixels): ${whole} whole records and ${size - whole * CIFAR_RECORD_BYTES} bytes left over` +
        (size < 10000 * CIFAR_RECORD_BYTES ? ` (a full file is ${10000 * CIFAR_RECORD_BYTES} bytes).` : '.'),
    );
  }
  return size / CIFAR_RECORD_BYTES;
}

/** The records of one CIFAR-10 batch file's bytes (whole records, labels 0-9); errors name `file`. */
export function parseCifarBatch(bytes: Uint8Array, file: string): { images: Uint8Array; labels: Uint8Array; count: number } {
  const count = cifarRecordCount(bytes.length, file);
  const images = new Uint8Array(count * IMAGE_NUMEL);
  const labels = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const off = r * CIFAR_RECORD_BYTES;
    const label = bytes[off];
    if (label > 9) {
      throw new CifarFormatError(
        `CIFAR-10 file ${file}: record ${r} (byte offset ${off}) has label ${label}, outside 0-9. ` +
          `The file is corrupt or is not ${CIFAR_WANTED}` + (label < 100 ? ' (CIFAR-100 labels go up to 99)' : '') + '.',
      );
    }
    labels[r] = label;
    images.set(bytes.subarray(off + 1, off + CIFAR_RECORD_BYTES), r * IMAGE_NUMEL);
  }
  return { images, labels, count };
}

/** CIFAR-10 from named files (dropped in the page): the training batches present, and test_batch.bin. */
export function readCifar10Files(files: DataFiles): { train: Dataset; test: Dataset } {
  const names = new Set(files.list());
  const trainNames = CIFAR10_TRAIN_FILES.filter((f) => names.has(f));
  const missing = [...(trainNames.length ? [] : ['data_batch_1.bin (at least one of data_batch_1..5.bin)']), ...(names.has(CIFAR10_TEST_FILE) ? [] : [CIFAR10_TEST_FILE])];
  if (missing.length) {
    const hint = names.has('train.bin') ? ' This looks like CIFAR-100 (train.bin/test.bin), not CIFAR-10.' : '';
    throw new CifarFormatError(`CIFAR-10 files ${files.where} are missing ${missing.join(', ')}. Expected ${[...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].join(', ')}: ${CIFAR_WANTED}.` + hint);
  }
  const split = (list: string[], name: string): Dataset => {
    const parts = list.map((f) => parseCifarBatch(files.read(f), files.path(f)));
    const count = parts.reduce((s, p) => s + p.count, 0);
    const images = new Uint8Array(count * IMAGE_NUMEL);
    const labels = new Uint8Array(count);
    let n = 0;
    for (const p of parts) {
      images.set(p.images, n * IMAGE_NUMEL);
      labels.set(p.labels, n);
      n += p.count;
    }
    return { images, labels, count, channels: IMAGE_CHANNELS, height: IMAGE_SIZE, width: IMAGE_SIZE, classes: [...CIFAR10_CLASSES], name };
  };
  return { train: split(trainNames, 'cifar10-train'), test: split([CIFAR10_TEST_FILE], 'cifar10-test') };
}
