// Kernel versions (src/gpu/versions.ts): the registry, how a version derives a profile, the
// --versions parser, and the validation the benchmark runs before timing a version: every
// registered version meets the CPU reference, a deliberately broken one does not (and is not timed).
import { describe, expect, it } from 'vitest';
import { CONV_V2, makeProfile, PROFILE_NAMES, TILES } from '../src/gpu/profile.js';
import { pickTile } from '../src/gpu/programs/conv2d.js';
import {
  findVersion,
  KERNEL_VERSIONS,
  latestVersion,
  parseVersionRequest,
  VERSION_FAMILIES,
  versionOf,
  versionsOf,
  withVersions,
  type KernelVersion,
} from '../src/gpu/versions.js';
import { runKernelBench, validateVersion, versionChecks } from '../src/bench/kernels.js';
import { describeGpu, requireGpu } from './helpers/optest.js';

describe('kernel version registry', () => {
  it('every family numbers its versions v1, v2, ...; each is a complete choice; each profile runs a named one', () => {
    for (const f of VERSION_FAMILIES) {
      expect(KERNEL_VERSIONS[f].map((k) => k.name)).toEqual(KERNEL_VERSIONS[f].map((_, i) => `v${i + 1}`));
      for (const k of KERNEL_VERSIONS[f]) expect(k.family).toBe(f);
      // complete: every version decides the same fields, so none depends on what an older one set
      const fields = Object.keys(KERNEL_VERSIONS[f][0].choice).sort();
      for (const k of KERNEL_VERSIONS[f]) expect(Object.keys(k.choice).sort(), `${f} ${k.name}`).toEqual(fields);
      // no two versions make the same choice
      expect(new Set(KERNEL_VERSIONS[f].map((k) => JSON.stringify(k.choice))).size).toBe(KERNEL_VERSIONS[f].length);
    }
    // what each profile runs is its own choice, not "the newest" (a GPU-only version may come later)
    expect(versionsOf(makeProfile('cpu-adapter'))).toEqual({ conv2d: 'v6', batchnorm: 'v2', skipadd: 'v2' });
    // the gpu profile: every tile shape, one vec4 per BN invocation, skipadd in workgroups of 64
    expect(versionsOf(makeProfile('gpu'))).toEqual({ conv2d: 'v2', batchnorm: 'v1', skipadd: 'v1' });
    expect(latestVersion('conv2d').name).toBe('v6');
    expect(versionOf({ ...makeProfile('gpu'), skipadd: { forwardWorkgroupSize: 128, backwardVec4sPerInvocation: 4 } }, 'skipadd')).toBeNull();
  });

  it('a version derives a new profile (the base is left alone) and changes the choice it names', () => {
    for (const name of PROFILE_NAMES) {
      const base = makeProfile(name);
      const before = JSON.stringify(base);
      const v1 = withVersions(base, [findVersion('conv2d', 'v1'), findVersion('batchnorm', 'v1'), findVersion('skipadd', 'v1')]);
      expect(JSON.stringify(base)).toBe(before);
      expect(v1.name).toBe(name);
      expect(versionsOf(v1)).toEqual({ conv2d: 'v1', batchnorm: 'v1', skipadd: 'v1' });
      expect(pickTile(16, 4096, v1.conv2d.tiles)).toEqual(TILES[0]);
      expect(pickTile(16, 4096, withVersions(base, [findVersion('conv2d', 'v2')]).conv2d.tiles)).toMatchObject({ tm: 16, tn: 256 });
      expect(v1.batchnorm.maxSpan).toBe(1);
      expect(v1.skipadd.forwardWorkgroupSize).toBe(64);
      expect(v1.conv2d.maxWorkgroups).toBe(base.conv2d.maxWorkgroups);
    }
  });

  it('parses --versions', () => {
    expect(parseVersionRequest('')).toEqual({ kind: 'default' });
    expect(parseVersionRequest('all')).toEqual({ kind: 'compare', families: ['conv2d', 'batchnorm', 'skipadd'] });
    expect(parseVersionRequest('skipadd,conv2d')).toEqual({ kind: 'compare', families: ['conv2d', 'skipadd'] });
    const sel = parseVersionRequest('batchnorm=v1,conv2d=v1');
    expect(sel.kind === 'select' && sel.versions.map((k) => `${k.family} ${k.name}`)).toEqual(['conv2d v1', 'batchnorm v1']);
    expect(() => parseVersionRequest('conv2d=v9')).toThrow(/unknown version 'v9' of conv2d \(versions: v1, v2, v3, v4, v5, v6\)/);
    expect(() => parseVersionRequest('matmul=v1')).toThrow(/unknown kernel family 'matmul' \(families with versions: conv2d, batchnorm, skipadd\)/);
    expect(() => parseVersionRequest('conv2d=v1,conv2d=v2')).toThrow(/conv2d is given twice/);
    expect(() => parseVersionRequest('conv2d,batchnorm=v1')).toThrow(/mixes family=version items with bare families/);
  });
});

/**
 * A corrupt tile choice: 64 invocations of 8x8 accumulators cover 4096 entries of C, this 64x128
 * tile has 8192, so rows 16-31 and 48-63 of every tile are never computed (any GEMM with M > 16).
 */
const BROKEN: KernelVersion = { family: 'conv2d', name: 'broken', summary: 'a corrupt tile choice (TM x TN != 4096)', choice: { ...CONV_V2, tiles: [{ tm: 64, tn: 128, tk: 8, cost: 1 }] } };
const SMALL = [{ c: 32, h: 8 }];

describeGpu('kernel versions against the CPU reference (the benchmark validation)', () => {
  it('every registered version passes its family\'s checks at a width-1 layer shape', async () => {
    const rt = await requireGpu();
    for (const f of VERSION_FAMILIES) {
      for (const k of KERNEL_VERSIONS[f]) {
        const v = await validateVersion(rt, k, SMALL);
        expect(v, `${f} ${k.name}: ${v.message}`).toMatchObject({ family: f, version: k.name, ok: true, message: '' });
        expect(v.checks).toBe(versionChecks(f, SMALL).length);
      }
    }
  });

  it('a broken version fails, naming the check, and the runtime gets its profile back', async () => {
    const rt = await requireGpu();
    const before = rt.profile;
    const v = await validateVersion(rt, BROKEN, SMALL);
    expect(v.ok).toBe(false);
    expect(v.message).toMatch(/^conv2d\./);
    expect(v.message).toMatch(/mismatch at index|error/i);
    expect(rt.profile).toBe(before);
  });

  it('the benchmark refuses to time a version that fails its check', async () => {
    const rt = await requireGpu();
    const before = rt.profile;
    const opts = { batch: 1, reps: 1, warmup: 0, quick: true, only: 'conv2d.forward', layers: SMALL, copyMiB: 1, sgemmN: 64, sgdParams: 64, minTotalMs: 0 };
    await expect(runKernelBench(rt, { ...opts, versions: { kind: 'select', versions: [BROKEN] } })).rejects.toThrow(/conv2d broken fails its check against the CPU reference, so it is not timed: conv2d\./);
    expect(rt.profile).toBe(before);
    // the same run with the registered versions compares them side by side, each validated
    const r = await runKernelBench(rt, { ...opts, versions: { kind: 'compare', families: ['conv2d'] } });
    const all = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];
    expect(r.versions.conv2d).toEqual(all);
    expect(r.validation.map((v) => [v.version, v.ok])).toEqual(all.map((n) => [n, true]));
    expect(r.kernels.map((k) => k.name)).toEqual(all.map((n) => `conv2d.forward 8x8x32 [conv2d ${n}]`));
    expect(rt.profile).toBe(before);
  });
});
