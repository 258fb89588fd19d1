// Files dropped onto the page, read with the Node readers (src/data: IDX, CIFAR-10 binary) through
// the DataFiles seam: the same checks and the same messages as `wrn train --data DIR`. Gzip is
// undone first with DecompressionStream (the readers' seam is synchronous).
import { DataFormatError, resizeDataset, takeFirst, type Dataset } from '../data/dataset.js';
import { isGzip, memoryFiles } from '../data/files.js';
import { looksLikeIdx, readFashionMnist } from '../data/idx.js';
import { readCifar10Files } from '../data/cifar_format.js';
import { BROWSER_FILES_SOURCE } from '../train/config.js';
import type { DataSpec } from '../data/load.js';
import { gunzip } from './ui.js';

const WHERE = 'dropped files';

/** Read dropped files as a train and a test set; `source` records them for the checkpoint. */
export async function readDropped(files: File[], spec: DataSpec): Promise<{ train: Dataset; test: Dataset; source: string }> {
  const bytes = new Map<string, Uint8Array>();
  for (const f of files) {
    const b = new Uint8Array(await f.arrayBuffer());
    bytes.set(f.name, isGzip(b) ? await gunzip(b, `${f.name} (${WHERE})`) : b);
  }
  const seam = memoryFiles(WHERE, bytes, () => {
    throw new Error('unreachable: dropped files are gunzipped before reading');
  });
  const names = [...bytes.keys()];
  const cifar = names.some((n) => /^(data_batch_\d|test_batch)\.bin$/.test(n) || n === 'train.bin');
  const idx = !cifar && names.some((n) => looksLikeIdx(bytes.get(n)!.subarray(0, 4)) || /idx\d-ubyte(\.gz)?$/.test(n));
  if (!cifar && !idx) {
    throw new DataFormatError(
      `${WHERE}: neither IDX files (Fashion-MNIST: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) ` +
        `nor CIFAR-10 binary files (data_batch_1.bin ... data_batch_5.bin, test_batch.bin); found ${names.length ? names.slice(0, 6).join(', ') + (names.length > 6 ? ', ...' : '') : 'no files'}`,
    );
  }
  let { train, test } = cifar ? readCifar10Files(seam) : readFashionMnist(seam);
  if (spec.trainCount) train = takeFirst(train, spec.trainCount);
  if (spec.testCount) test = takeFirst(test, spec.testCount);
  if (spec.imageSize) {
    train = resizeDataset(train, spec.imageSize);
    test = resizeDataset(test, spec.imageSize);
  }
  return { train, test, source: `${BROWSER_FILES_SOURCE} ${cifar ? 'CIFAR-10' : 'IDX'} (${names.sort().join(', ')})` };
}
