// One way to open a run, for the trainer (src/train/trainer.ts) and the browser page
// (src/web/views.ts): a training checkpoint's header checked, a resume's settings merged with the
// checkpoint's, the settings checked against the data (the same rules in both), and the model, its
// optimizer velocities and the progress built or restored. No node:* here.
import { Tensor, type Device } from '../tensor.js';
import { WideResNet } from '../model/wrn.js';
import { numBatches } from '../data/augment.js';
import { checkImageSize, dataHash, type Dataset } from '../data/dataset.js';
import { CheckpointError, type Checkpoint } from './checkpoint_format.js';
import { BROWSER_FILES_SOURCE, DEFAULT_TRAIN, RESUME_MAY_CHANGE, startProgress, trainHeaderProblems, validateTrainConfig, withSchedule, type CheckpointHeader, type TrainConfig, type TrainProgress } from './config.js';
import { restore } from './evaluate.js';
import { flagOfField, hasFlag } from './settings.js';

/** A training checkpoint, read and checked once: its tensors and header (config: what data to load and what ran). */
export type TrainCheckpoint = Checkpoint<CheckpointHeader>;

/** A checkpoint a run continues, and the name its messages give it (a path, a dropped file). */
export interface Resume {
  ckpt: TrainCheckpoint;
  name: string;
}

/** A decoded checkpoint, checked as a training run's: its kind and every field of its header (one line per violation). */
export function checkTrainCheckpoint(ckpt: Checkpoint<CheckpointHeader>, name: string): TrainCheckpoint {
  if (ckpt.header?.kind !== 'wrn-train') throw new CheckpointError(`checkpoint ${name}: not a training checkpoint (kind '${ckpt.header?.kind}')`);
  const problems = trainHeaderProblems(ckpt.header);
  if (problems.length) throw new CheckpointError(`checkpoint ${name}: its header is not a training run's: ${problems.join('; ')}`);
  return ckpt;
}

/** The configuration stored in a training checkpoint (older ones: the defaults for what they lack). */
export function checkpointConfig(ckpt: TrainCheckpoint): TrainConfig {
  return withSchedule({ ...DEFAULT_TRAIN, ...ckpt.header.config });
}

/**
 * A resume's configuration: the checkpoint's, with the settings in RESUME_MAY_CHANGE taken from
 * `given` where given. Any other given setting that differs is an error naming both values.
 */
export function resumeConfig(saved: TrainConfig, given: Partial<TrainConfig>, flagOf: (k: keyof TrainConfig) => string = flagOfField): TrainConfig {
  const out: TrainConfig = { ...saved };
  const clashes: string[] = [];
  for (const [k, v] of Object.entries(given) as [keyof TrainConfig, unknown][]) {
    if (v === undefined || (k === 'scheduleEpochs' && !v)) continue; // 0: not given (the checkpoint's)
    if ((RESUME_MAY_CHANGE as readonly string[]).includes(k)) {
      (out as unknown as Record<string, unknown>)[k] = v;
      continue;
    }
    if (JSON.stringify(saved[k]) !== JSON.stringify(v)) clashes.push(`${flagOf(k)} ${fmtValue(v)} (the checkpoint has ${fmtValue(saved[k])})`);
  }
  if (clashes.length) {
    throw new CheckpointError(
      `a resume continues the checkpoint's run, and these flags contradict it: ${clashes.join('; ')}. ` +
        `Drop them, or start a new run with --out; a resume may change only ${RESUME_MAY_CHANGE.filter((k) => hasFlag(k)).map((k) => flagOf(k)).join(', ')}`,
    );
  }
  return out;
}

function fmtValue(v: unknown): string {
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * The settings a run opens with, checked against its data: the configuration's rules, the batch
 * size against the training images, the images' size; for a resume, that `cfg` is the
 * checkpoint's run (resumeConfig), that the checkpoint stands at a place of this run, and that
 * --epochs does not end the run before it. The schedule is the run's: laid out for a fresh run's
 * epochs, kept by a resume.
 */
export function openSettings(cfg: TrainConfig, data: { train: Dataset; test: Dataset }, resume: Resume | null): { cfg: TrainConfig; batchesPerEpoch: number } {
  validateTrainConfig(cfg);
  const batchesPerEpoch = numBatches(data.train.count, cfg.batchSize, true);
  if (batchesPerEpoch < 1) throw new Error(`train: --batch-size ${cfg.batchSize} is larger than the ${data.train.count} training images (--train-count)`);
  checkImageSize(data.train, `--data ${cfg.data.source}`); // native images under 4x4, as --image-size 1..3 is refused
  if (!resume) return { cfg: withSchedule(cfg), batchesPerEpoch };
  const { epoch, batch, step } = resume.ckpt.header;
  if (batch >= batchesPerEpoch || step !== epoch * batchesPerEpoch + batch) {
    throw new CheckpointError(`checkpoint ${resume.name}: stands at epoch ${epoch + 1}, batch ${batch}, step ${step}, which is not a place in this run of ${batchesPerEpoch} steps per epoch (step = epoch x ${batchesPerEpoch} + batch)`);
  }
  // A resume continues a run; it cannot end it before where it already stands.
  const reached = epoch + (batch > 0 ? 1 : 0);
  const saved = checkpointConfig(resume.ckpt);
  if (cfg.epochs < reached) {
    throw new CheckpointError(
      `--epochs ${cfg.epochs}: checkpoint ${resume.name} has ${batch > 0 ? `started epoch ${reached} (step ${step})` : `finished ${epoch} epochs (step ${step})`}, past the ${cfg.epochs} asked for; ` +
        `a resume can only continue a run: give --epochs ${reached} or more (or leave it out: the checkpoint's ${saved.epochs})`,
    );
  }
  // A page checkpoint names files dropped in a browser: the caller says where they are now, and
  // the content decides (names and paths do not): the images and labels must be the run's.
  const dropped = saved.data.source.startsWith(BROWSER_FILES_SOURCE);
  if (dropped) saved.data = { ...saved.data, source: cfg.data.source };
  const want = resume.ckpt.header.dataHash;
  const have = want === undefined ? undefined : dataHash(data);
  if (have !== want) {
    throw new CheckpointError(
      `checkpoint ${resume.name}: --data ${cfg.data.source} holds other images or labels than the run trained on (after --train-count, --test-count and --image-size: content hash ${have}, the checkpoint's ${want}); ` +
        (dropped ? `give --data the directory holding the same files that were dropped in the page (${resume.ckpt.header.config.data.source.slice(BROWSER_FILES_SOURCE.length).trim()})` : 'give --data the data the run was trained on'),
    );
  }
  resumeConfig(saved, cfg); // the caller merged it: a mismatch is a bug
  return { cfg: { ...cfg, scheduleEpochs: saved.scheduleEpochs }, batchesPerEpoch };
}

/** The model, the optimizer's velocities (zeros) and the progress of a run: fresh, or restored from its checkpoint. The caller releases model and velocities. */
export function openModel(cfg: TrainConfig, data: { train: Dataset }, resume: Resume | null): { model: WideResNet; velocities: Tensor[]; progress: TrainProgress } {
  const model = new WideResNet(
    { depth: cfg.depth, widen: cfg.widen, variant: cfg.variant, fuseBn: cfg.fuseBn, alphaInit: cfg.alphaInit, seed: cfg.seed, numClasses: data.train.classes.length, inChannels: data.train.channels },
    cfg.device as Device,
  );
  let velocities: Tensor[] = [];
  try {
    velocities = model.params.map((p) => Tensor.zeros(p.tensor.shape, cfg.device).keep());
    if (resume) restore(resume.ckpt, resume.name, model, velocities);
  } catch (e) {
    model.release();
    velocities.forEach((v) => v.release());
    throw e;
  }
  return { model, velocities, progress: startProgress(resume?.ckpt.header) };
}
