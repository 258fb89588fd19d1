// What `--data` names, resolved to datasets (Node only): 'fashion-mnist' (Debian's package),
// 'synthetic' (embedded), or a directory of IDX files or CIFAR-10 binaries, told apart by their
// content. Then the fixed subsets (the first N images) and the optional area-averaged resize.
import { existsSync } from 'node:fs';
import { statPath } from '../util/fsx.js';
import { CIFAR10_TEST_FILE, CIFAR_RECORD_BYTES, loadCifar10 } from './cifar.js';
import { DataFormatError, FASHION_MNIST_DIR, resizeDataset, takeFirst, type Dataset } from './dataset.js';
import { readFashionMnist, looksLikeIdx } from './idx.js';
import { isGzip } from './files.js';
import { directoryFiles } from './node_files.js';
import { makeSynthetic, SYNTHETIC_MAX_COUNT } from './synthetic.js';

export { FASHION_MNIST_DIR } from './dataset.js';

export interface DataSpec {
  /** 'fashion-mnist', 'synthetic', or a directory (IDX or CIFAR-10 binary files). */
  source: string;
  /** Training images: the first N (0: all; synthetic: N are drawn). */
  trainCount: number;
  /** Test images: the first N of the official test set (0: all). */
  testCount: number;
  /** Resize to N x N by area averaging (0: the dataset's own size). */
  imageSize: number;
}

/** Whether Debian's Fashion-MNIST files are installed. */
export function fashionMnistInstalled(): boolean {
  return existsSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);
}

/** 'idx' or 'cifar10', from the files in `dir` (content, not names alone); throws naming the path. */
export function detectDirectory(dir: string): 'idx' | 'cifar10' {
  const st = statPath(dir, '--data'); // a symlink loop or a forbidden parent is said as such, not as missing
  if (!st) throw new DataFormatError(`--data ${dir}: no such directory; expected 'fashion-mnist', 'synthetic', or a directory of Fashion-MNIST IDX files or CIFAR-10 binary files`);
  if (!st.isDirectory()) throw new DataFormatError(`--data ${dir}: not a directory; expected a directory of Fashion-MNIST IDX files (*-idx3-ubyte[.gz]) or CIFAR-10 binary files (data_batch_1.bin ...)`);
  const files = directoryFiles(dir);
  const names = files.list();
  // CIFAR-10's names first: a CIFAR record can start with the bytes of an IDX magic.
  const cifarNamed = names.some((n) => /^(data_batch_\d|test_batch)\.bin$/.test(n));
  if (!cifarNamed) {
    for (const n of names) {
      const head = files.head(n, 4);
      if (looksLikeIdx(head) || (isGzip(head) && /idx\d-ubyte\.gz$/.test(n))) return 'idx';
    }
  }
  const cifarLike = names.filter((n) => /^(data_batch_\d|test_batch)\.bin$/.test(n) && (statPath(`${dir}/${n}`, 'reading data file')?.size ?? 1) % CIFAR_RECORD_BYTES === 0);
  if (cifarLike.length || names.includes(CIFAR10_TEST_FILE) || names.includes('cifar-10-batches-bin') || statPath(`${dir}/cifar-10-batches-bin`, '--data')) return 'cifar10';
  // Let the CIFAR reader name what is missing (it also recognises CIFAR-100 and the pickle version).
  if (names.some((n) => n.startsWith('data_batch') || n === 'train.bin')) return 'cifar10';
  throw new DataFormatError(
    `--data ${dir}: holds neither IDX files (Fashion-MNIST: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) ` +
      `nor CIFAR-10 binary files (data_batch_1.bin ... data_batch_5.bin, test_batch.bin); found ${names.length ? names.slice(0, 6).join(', ') + (names.length > 6 ? ', ...' : '') : 'no files'}`,
  );
}

export interface LoadedData {
  train: Dataset;
  test: Dataset;
  /** One line saying what was loaded (and any fallback). */
  note: string;
}

/** Load what a DataSpec names; `seed` draws the synthetic set. Errors name the path and the expected form. */
export function loadDataset(spec: DataSpec, seed: number): LoadedData {
  let train: Dataset;
  let test: Dataset;
  const clamped: string[] = [];
  if (spec.source === 'synthetic') {
    for (const [flag, n] of [['--train-count', spec.trainCount], ['--test-count', spec.testCount]] as const) {
      if (n > SYNTHETIC_MAX_COUNT) throw new DataFormatError(`--data synthetic ${flag} ${n}: the synthetic set is capped at ${SYNTHETIC_MAX_COUNT} images per split; lower ${flag}`);
    }
    ({ train, test } = makeSynthetic({ trainCount: spec.trainCount || 768, testCount: spec.testCount || 250, seed }));
  } else {
    const dir = spec.source === 'fashion-mnist' ? FASHION_MNIST_DIR : spec.source;
    if (spec.source === 'fashion-mnist' && !fashionMnistInstalled()) {
      throw new DataFormatError(`--data fashion-mnist: the files are not in ${FASHION_MNIST_DIR}; install them with 'apt install dataset-fashion-mnist' (npm run setup does), or pass a directory`);
    }
    const kind = spec.source === 'fashion-mnist' ? 'idx' : detectDirectory(dir);
    ({ train, test } = kind === 'idx' ? readFashionMnist(directoryFiles(dir)) : loadCifar10(dir, { ...(spec.trainCount ? { limit: spec.trainCount } : {}), ...(spec.testCount ? { testLimit: spec.testCount } : {}) }));
    if (spec.trainCount) train = takeFirst(train, spec.trainCount);
    if (spec.testCount) test = takeFirst(test, spec.testCount);
    // A count beyond the data takes all of it: said, not done silently.
    for (const [flag, n, ds] of [['--train-count', spec.trainCount, train], ['--test-count', spec.testCount, test]] as const) {
      if (n > ds.count) clamped.push(`${flag} ${n} is more than the ${ds.count} ${flag === '--train-count' ? 'training' : 'test'} images there: all ${ds.count} are used`);
    }
  }
  if (spec.imageSize) {
    train = resizeDataset(train, spec.imageSize);
    test = resizeDataset(test, spec.imageSize);
  }
  const note =
    `${train.name.replace(/-train$/, '')}: ${train.count} train / ${test.count} test images of ${train.channels}x${train.height}x${train.width}` +
    (spec.imageSize ? ' (area-averaged resize)' : '') +
    (clamped.length ? ` (${clamped.join('; ')})` : '');
  return { train, test, note };
}
