// Data pipeline: the Dataset shape, the IDX (Fashion-MNIST) and CIFAR-10 readers, the embedded
// synthetic dataset, augmentation/batching, PNG output.
export { channelNorm, checkDataset, imageNumel, imageShape, resizeDataset, takeFirst, DataFormatError, type ChannelNorm } from './dataset.js';
export { parseIdx, idxSplit, readFashionMnist, looksLikeIdx, FASHION_MNIST_CLASSES, IDX_FILES } from './idx.js';
export { memoryFiles, isGzip, type DataFiles } from './files.js';
export {
  loadCifar10,
  CifarFormatError,
  CIFAR10_CLASSES,
  CIFAR10_TRAIN_FILES,
  CIFAR10_TEST_FILE,
  CIFAR_RECORD_BYTES,
  IMAGE_CHANNELS,
  IMAGE_SIZE,
  IMAGE_NUMEL,
  type Dataset,
  type LoadCifarOptions,
} from './cifar.js';
export { makeSynthetic, renderSyntheticImage, SYNTHETIC_CLASSES, type SyntheticOptions } from './synthetic.js';
export {
  epochBatches,
  evalBatches,
  epochOrder,
  numBatches,
  normalizeImage,
  datasetNorm,
  augmentParams,
  cropFlip,
  cropPad,
  noAugment,
  type AugmentParams,
  type Batch,
  type EpochOptions,
} from './augment.js';
export { writePng, writeSampleGrid, type SampleGridOptions } from './png.js';
