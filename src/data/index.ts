// Data pipeline: CIFAR-10 reader, the embedded synthetic dataset, augmentation/batching, PNG output.
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
export { makeSynthetic, renderSyntheticImage, SYNTHETIC_CLASSES, mulberry32, mixSeed, Rng, type SyntheticOptions } from './synthetic.js';
export {
  epochBatches,
  evalBatches,
  epochOrder,
  numBatches,
  standardizeImage,
  augmentParams,
  cropFlip,
  flipLR,
  PAD,
  NO_AUGMENT,
  type AugmentParams,
  type Batch,
  type EpochOptions,
} from './augment.js';
export { writePng, writeSampleGrid, type SampleGridOptions } from './png.js';
