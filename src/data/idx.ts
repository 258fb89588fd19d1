// IDX files (the MNIST / Fashion-MNIST format): a 4-byte magic (0, 0, type 0x08 = unsigned byte,
// number of dimensions), the dimensions as big-endian u32, then the values row-major. Images are
// [count, rows, cols], labels [count]. Pure functions of bytes: the files come through the
// DataFiles seam (src/data/files.ts), so the browser reads dropped files with the same code.
import { DataFormatError, type Dataset } from './dataset.js';
import type { DataFiles } from './files.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The four files of a Fashion-MNIST (or MNIST) directory, each optionally gzipped (.gz). */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

const UBYTE = 0x08;

/** True if these bytes start like an IDX file of unsigned bytes. */
export function looksLikeIdx(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0 && head[1] === 0 && head[2] === UBYTE && head[3] >= 1 && head[3] <= 4;
}

/** Parse an IDX file of unsigned bytes with `ndims` dimensions; `file` names it in errors. */
export function parseIdx(bytes: Uint8Array, file: string, ndims: number): { dims: number[]; data: Uint8Array } {
  const what = ndims === 3 ? 'an IDX image file (magic 0x00000803: unsigned bytes, 3 dimensions [count, rows, cols])' : 'an IDX label file (magic 0x00000801: unsigned bytes, 1 dimension [count])';
  const bad = (why: string) => new DataFormatError(`IDX file ${file}: ${why}; expected ${what}`);
  if (bytes.length < 4) throw bad(`only ${bytes.length} bytes`);
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  if (bytes[0] !== 0 || bytes[1] !== 0) throw bad(`bad magic number 0x${magic.toString(16).padStart(8, '0')} (not an IDX file)`);
  if (bytes[2] !== UBYTE) throw bad(`value type 0x${bytes[2].toString(16).padStart(2, '0')} is not unsigned byte (0x08)`);
  if (bytes[3] !== ndims) throw bad(`${bytes[3]} dimensions (magic 0x${magic.toString(16).padStart(8, '0')})`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) throw bad(`header needs ${headerBytes} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  if (dims.some((d) => d === 0)) throw bad(`a zero dimension in [${dims.join(', ')}]`);
  const values = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerBytes;
  if (have !== values) {
    throw bad(`dimensions [${dims.join(', ')}] need ${values} values after the ${headerBytes}-byte header, the file has ${have} (${have < values ? 'truncated' : 'trailing bytes'})`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** One split from an image file and a label file; counts must agree and labels be < classes. */
export function idxSplit(images: Uint8Array, imagesFile: string, labels: Uint8Array, labelsFile: string, name: string, classes: string[]): Dataset {
  const im = parseIdx(images, imagesFile, 3);
  const lb = parseIdx(labels, labelsFile, 1);
  const [count, rows, cols] = im.dims;
  if (lb.dims[0] !== count) throw new DataFormatError(`IDX files ${imagesFile} and ${labelsFile}: ${count} images but ${lb.dims[0]} labels; expected one label per image`);
  for (let i = 0; i < count; i++) {
    if (lb.data[i] >= classes.length) {
      throw new DataFormatError(`IDX file ${labelsFile}: label ${i} is ${lb.data[i]}, expected a class index below ${classes.length}`);
    }
  }
  return { images: im.data.slice(), labels: lb.data.slice(), count, channels: 1, height: rows, width: cols, classes: [...classes], name };
}

/** Fashion-MNIST (train and test) from a directory holding the four IDX files, gzipped or not. */
export function readFashionMnist(files: DataFiles): { train: Dataset; test: Dataset } {
  const present = new Set(files.list());
  const pick = (base: string) => (present.has(`${base}.gz`) ? `${base}.gz` : present.has(base) ? base : null);
  const names = Object.fromEntries(Object.entries(IDX_FILES).map(([k, base]) => [k, pick(base)])) as Record<keyof typeof IDX_FILES, string | null>;
  const missing = Object.entries(names).filter(([, v]) => v === null).map(([k]) => IDX_FILES[k as keyof typeof IDX_FILES]);
  if (missing.length) {
    // There but not a regular file (a FIFO, a directory, a dangling link) is said as such, not as missing.
    const odd = missing.flatMap((m) => [`${m}.gz`, m]).flatMap((n) => {
      const what = files.notFile?.(n);
      return what ? [`${files.path(n)} is ${what}, not a regular file`] : [];
    });
    throw new DataFormatError(
      `IDX directory ${files.where} is missing ${missing.map((m) => `${m}[.gz]`).join(', ')}${odd.length ? ` (${odd.join('; ')})` : ''}; expected the four Fashion-MNIST files ` +
        `${Object.values(IDX_FILES).map((f) => `${f}.gz`).join(', ')} (Debian: apt install dataset-fashion-mnist)`,
    );
  }
  const read = (n: string) => files.read(n);
  const train = idxSplit(read(names.trainImages!), files.path(names.trainImages!), read(names.trainLabels!), files.path(names.trainLabels!), 'fashion-mnist-train', FASHION_MNIST_CLASSES);
  const test = idxSplit(read(names.testImages!), files.path(names.testImages!), read(names.testLabels!), files.path(names.testLabels!), 'fashion-mnist-test', FASHION_MNIST_CLASSES);
  if (train.height !== test.height || train.width !== test.width) {
    throw new DataFormatError(`IDX directory ${files.where}: train images are ${train.height}x${train.width} but test images ${test.height}x${test.width}; expected one image size`);
  }
  return { train, test };
}
