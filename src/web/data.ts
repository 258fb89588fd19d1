// Files dropped onto the page, read with the Node readers (src/data: IDX, CIFAR-10 binary) through
// the DataFiles seam: the same checks and the same messages as `wrn train --data DIR`. Gzip is
// undone first with DecompressionStream (the readers' seam is synchronous).
import { DataFormatError, resizeDataset, takeFirst, type Dataset } from '../data/dataset.js';
import { isGzip, memoryFiles } from '../data/files.js';
import { IDX_FILES, looksLikeIdx, readFashionMnist } from '../data/idx.js';
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
  const sets = cifar ? readCifar10Files(seam) : readFashionMnist(seam);
  return { ...subset(sets, spec), source: `${BROWSER_FILES_SOURCE} ${cifar ? 'CIFAR-10' : 'IDX'} (${names.sort().join(', ')})` };
}

/** The first N images and the resize, in the order the CLI's loader applies them (src/data/load.ts). */
function subset({ train, test }: { train: Dataset; test: Dataset }, spec: DataSpec): { train: Dataset; test: Dataset } {
  if (spec.trainCount) train = takeFirst(train, spec.trainCount);
  if (spec.testCount) test = takeFirst(test, spec.testCount);
  if (spec.imageSize) {
    train = resizeDataset(train, spec.imageSize);
    test = resizeDataset(test, spec.imageSize);
  }
  return { train, test };
}

/** The URL path under which `wrn browser --serve` serves the machine's Fashion-MNIST (src/web/serve.ts). */
export const SERVED_FASHION_MNIST = '/data/fashion-mnist/';

/** Whether the server that served this page has Fashion-MNIST (all four files). */
export async function servedFashionMnist(): Promise<boolean> {
  try {
    const r = await fetch(SERVED_FASHION_MNIST);
    return r.ok && ((await r.json()) as { files?: string[] }).files?.length === 4;
  } catch {
    return false;
  }
}

/**
 * The machine's Fashion-MNIST, as served by `wrn browser --serve`: the same files, readers and
 * subset as `wrn train --data fashion-mnist`, recorded with that source, so `wrn train --resume`
 * of the page's checkpoint reads them itself with no flag.
 */
export async function readServedFashionMnist(spec: DataSpec): Promise<{ train: Dataset; test: Dataset; source: string }> {
  const where = `the served Fashion-MNIST (${SERVED_FASHION_MNIST})`;
  if (!(await servedFashionMnist())) {
    throw new DataFormatError(`${where}: this server has no Fashion-MNIST; install it where wrn browser --serve runs (apt install dataset-fashion-mnist; npm run setup does), or choose synthetic data or dropped files`);
  }
  const bytes = new Map<string, Uint8Array>();
  for (const base of Object.values(IDX_FILES)) {
    const name = `${base}.gz`;
    const r = await fetch(SERVED_FASHION_MNIST + name);
    if (!r.ok) throw new DataFormatError(`${where}: ${name}: HTTP ${r.status}`);
    bytes.set(name, await gunzip(new Uint8Array(await r.arrayBuffer()), `${name} (${where})`));
  }
  const sets = readFashionMnist(
    memoryFiles(where, bytes, () => {
      throw new Error('unreachable: served files are gunzipped before reading');
    }),
  );
  return { ...subset(sets, spec), source: 'fashion-mnist' };
}
