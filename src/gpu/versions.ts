// Numbered kernel versions (llm.c's habit): the alternatives that were measured stay selectable by
// name, so a later change is timed against its predecessors in one run (`wrn bench kernels
// --versions`) and every one is checked against the CPU reference (the op tests run each version;
// the benchmark validates each before timing it). A version is a named, complete choice of a
// family's section of the tuning profile (for conv2d: which implementation each kernel prefers,
// src/gpu/programs/conv2d.ts, and the tile shapes): one mechanism, the programs read the profile
// and nothing else. Versions are numbered in the order they were written; a profile may run any
// of them (a GPU-only version need not become a CPU default).
import { CONV_V1, CONV_V2, CONV_V3, CONV_V4, CONV_V5, CONV_V6, type ConvChoice, type TuningProfile } from './profile.js';

/** The kernel families that have versions (a section of the tuning profile each). */
export const VERSION_FAMILIES = ['conv2d', 'batchnorm', 'skipadd'] as const;
export type VersionFamily = (typeof VERSION_FAMILIES)[number];

/**
 * What a version of each family decides: every field of it (a version is complete, not a partial
 * override; a newer one derives from an older one with a spread). The rest of a profile's section
 * is the device's own knobs (grid sizes, split targets), which every version runs with.
 */
export interface VersionChoices {
  conv2d: ConvChoice;
  batchnorm: Pick<TuningProfile['batchnorm'], 'maxSpan'>;
  skipadd: Pick<TuningProfile['skipadd'], 'forwardWorkgroupSize'>;
}

export interface KernelVersion<F extends VersionFamily = VersionFamily> {
  family: F;
  /** 'v1', 'v2', ... */
  name: string;
  /** What it does and what was measured. */
  summary: string;
  choice: VersionChoices[F];
}

const v = <F extends VersionFamily>(family: F, name: string, summary: string, choice: VersionChoices[F]): KernelVersion<F> => ({ family, name, summary, choice });

/** Every version of every family, oldest first. Which one a profile runs is the profile's choice (src/gpu/profile.ts). */
export const KERNEL_VERSIONS: { readonly [F in VersionFamily]: readonly KernelVersion<F>[] } = {
  conv2d: [
    v('conv2d', 'v1', 'the 64x64 tile for every GEMM', CONV_V1),
    v('conv2d', 'v2', 'narrow 32x128 / 16x256 tiles picked by weighted padded work (at M = 16 the 64x64 tile computes 4x the entries needed, 16x256 1x at 2x the cost per entry)', CONV_V2),
    v('conv2d', 'v3', "v2's tiles, columns strided over the invocations (adjacent invocations, adjacent columns: a CPU adapter's SIMD lanes load B and store C as vectors)", CONV_V3),
    v('conv2d', 'v4', "v2, with the 3x3 stride-1 convolutions of few channels computed directly, without a GEMM tile or workgroup memory: forward and input gradient up to 32 output channels (16 pixels x 8 channels per invocation; SwiftShader, batch 32: 16 channels at 32x32 1.5x, 32 at 16x16 1.2x the tile's speed, 64 at 8x8 0.5x), filter gradient up to 32 (8 channels x 9 taps over a share of the rows: 16 channels 2.5x, 32 channels 1.0-1.2x, 64 at 8x8 0.4x)", CONV_V4),
    v('conv2d', 'v5', "v4, the direct kernels sharing loads through subgroups: the forward and input gradient read each tap's weights once per subgroup (lane l loads channel l % 4, subgroupBroadcast shares them; SwiftShader: 17% faster), the filter gradient, in workgroups of Cin invocations, a run of dy once per subgroup (1.5x; Cin % 4 == 0); needs subgroups of >= 4, else v4's reads", CONV_V5),
    v('conv2d', 'v6', "v5, with Winograd F(2x2, 3x3) for the 3x3 stride-1 forwards and input gradients that sum over >= 32 channels (the 16 GEMMs on the tile machinery; SwiftShader, wrn tune: WRN-16-4 batch 8 at 64-256 channels 0.49-0.68x the best other's time, WRN-16-1 batch 32 at 32 and 64 channels ~0.75x; at 16 summed channels 0.95-1.3x, so not there) and the pointwise kernel for 1x1 forwards (0.6-0.75x the tile's time)", CONV_V6),
  ],
  batchnorm: [
    v('batchnorm', 'v1', 'one vec4 per invocation in normalize and dx', { maxSpan: 1 }),
    v('batchnorm', 'v2', 'spans of up to 8 vec4s of one channel in normalize and dx (SwiftShader: normalize 1.0-1.3x a copy, against 1.9-9x at 1)', { maxSpan: 8 }),
  ],
  skipadd: [
    v('skipadd', 'v1', 'forward in workgroups of 64', { forwardWorkgroupSize: 64 }),
    v('skipadd', 'v2', 'forward in workgroups of 256 (SwiftShader: at 64 the forward took 1.5-2x the plain add\'s time)', { forwardWorkgroupSize: 256 }),
  ],
};

/** A choice of one version for some families. */
export type VersionSelection = Partial<Record<VersionFamily, string>>;

export function isVersionFamily(s: string): s is VersionFamily {
  return (VERSION_FAMILIES as readonly string[]).includes(s);
}

/** The version `name` of `family`; an unknown one is an error listing the registry's. */
export function findVersion(family: string, name: string): KernelVersion {
  if (!isVersionFamily(family)) throw new Error(`unknown kernel family '${family}' (families with versions: ${VERSION_FAMILIES.join(', ')})`);
  const found = KERNEL_VERSIONS[family].find((k) => k.name === name);
  if (!found) throw new Error(`unknown version '${name}' of ${family} (versions: ${KERNEL_VERSIONS[family].map((k) => k.name).join(', ')})`);
  return found;
}

/** The newest version of each family. */
export function latestVersion(family: VersionFamily): KernelVersion {
  const all = KERNEL_VERSIONS[family];
  return all[all.length - 1];
}

/**
 * `p` with `versions` applied (later ones win where two set one field): a new profile, `p` is left
 * alone. Its name stays the profile's; `versionsOf` says which version each family now runs.
 */
export function withVersions(p: TuningProfile, versions: readonly KernelVersion[]): TuningProfile {
  const out: TuningProfile = { ...p, conv2d: { ...p.conv2d }, batchnorm: { ...p.batchnorm }, skipadd: { ...p.skipadd } };
  for (const k of versions) Object.assign(out[k.family], k.choice);
  return out;
}

/** The versions a selection names, in family order. */
export function selectionVersions(sel: VersionSelection): KernelVersion[] {
  return VERSION_FAMILIES.filter((f) => sel[f] !== undefined).map((f) => findVersion(f, sel[f]!));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The version of `family` that `p` runs (the one whose whole choice `p` makes), or null. */
export function versionOf(p: TuningProfile, family: VersionFamily): string | null {
  const section = p[family] as unknown as Record<string, unknown>;
  const match = [...KERNEL_VERSIONS[family]].reverse().find((k) => Object.entries(k.choice).every(([field, value]) => same(section[field], value)));
  return match?.name ?? null;
}

/** The version of every family that `p` runs ('custom' where none matches). */
export function versionsOf(p: TuningProfile): Record<VersionFamily, string> {
  return Object.fromEntries(VERSION_FAMILIES.map((f) => [f, versionOf(p, f) ?? 'custom'])) as Record<VersionFamily, string>;
}

/** 'conv2d v2, batchnorm v2, skipadd v2' */
export const formatVersions = (vs: Record<string, string>) =>
  Object.entries(vs)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ');

/** The registry as lines of text (for --help). */
export function describeRegistry(indent = ''): string {
  return VERSION_FAMILIES.flatMap((f) => KERNEL_VERSIONS[f].map((k) => `${indent}${f}=${k.name}: ${k.summary}`)).join('\n');
}

/** What a --versions value asks for: one selection for the whole run, or every version of some families side by side. */
export type VersionRequest = { kind: 'default' } | { kind: 'select'; versions: KernelVersion[] } | { kind: 'compare'; families: VersionFamily[] };

/**
 * Parse a --versions value: '' (the profile's own), 'family=vN,...' (those versions for the whole
 * run), 'all' or 'family,...' (every version of those families, side by side).
 */
export function parseVersionRequest(s: string): VersionRequest {
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (items.length === 0) return { kind: 'default' };
  if (items.length === 1 && items[0] === 'all') return { kind: 'compare', families: [...VERSION_FAMILIES] };
  const pairs = items.filter((x) => x.includes('='));
  if (pairs.length && pairs.length !== items.length) throw new Error(`'${s}' mixes family=version items with bare families: give either versions to use (conv2d=v1,batchnorm=v1) or families to compare (all, or conv2d,batchnorm)`);
  if (pairs.length) {
    const sel: VersionSelection = {};
    for (const p of pairs) {
      const [family, name] = p.split('=', 2);
      const k = findVersion(family, name);
      if (sel[k.family]) throw new Error(`${k.family} is given twice in '${s}'`);
      sel[k.family] = k.name;
    }
    return { kind: 'select', versions: selectionVersions(sel) };
  }
  const families = items.map((f) => {
    if (!isVersionFamily(f)) throw new Error(`unknown kernel family '${f}' (families with versions: ${VERSION_FAMILIES.join(', ')}, or all)`);
    return f;
  });
  return { kind: 'compare', families: VERSION_FAMILIES.filter((f) => families.includes(f)) };
}
