// Checkpoints: one binary file, written atomically (src/util/fsx.ts), so a crash mid-write leaves
// the previous checkpoint intact; checksummed, so flipped bytes are detected; and never holding a
// NaN or an infinity (saving refuses them, loading verifies it).
//
// The format (WRNCKPT2) and its checks are pure functions of bytes in checkpoint_format.ts, which
// the browser page uses too; this file reads and writes them as files.
import { writeFileAtomic, readFileChecked, statPath } from '../util/fsx.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint, type CheckpointTensor } from './checkpoint_format.js';

export { crc32, assertFinite, CheckpointError, NonFiniteError, type Checkpoint, type CheckpointTensor } from './checkpoint_format.js';

export function saveCheckpoint<H>(path: string, header: H, tensors: CheckpointTensor[]): void {
  writeFileAtomic(path, encodeCheckpoint(header, tensors));
}

/** Read the file at `path`; errors name the path (a directory, a FIFO, a missing file, unreadable). */
function readCheckpointFile(path: string): Buffer {
  let st;
  try {
    st = statPath(path, 'checkpoint');
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  if (!st) throw new CheckpointError(`checkpoint ${path}: no such file`);
  if (st.isDirectory()) throw new CheckpointError(`checkpoint ${path}: is a directory; expected a checkpoint file (a run directory's checkpoint.wrnckpt)`);
  try {
    return readFileChecked(path, 'checkpoint'); // a FIFO or a device is refused, not read (it could block forever)
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
}

export function loadCheckpoint<H>(path: string): Checkpoint<H> {
  return decodeCheckpoint<H>(readCheckpointFile(path), path);
}
