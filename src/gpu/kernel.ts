// A compute kernel built from hand-written WGSL (composed by src/gpu/wgsl.ts). The WGSL is the one
// source of truth for the dispatch contract: wgsl_reflect reads the entry point's resources, its
// @workgroup_size and its uniform struct, and which of that struct's fields the entry point (and
// every function it calls) reads. The TypeScript side (KernelSpec.bindings) is checked against it
// when the kernel is loaded, so a kernel whose two sides disagree fails at load time with the
// binding's name; a dispatch packs exactly the uniform fields its entry point reads.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { mapWgslMessage, type WgslOrigin } from './wgsl.js';
import type { Category } from './cost.js';

export type BindingAccess = 'read' | 'read_write' | 'uniform';

export interface KernelSpec {
  /** Short name, used in labels, error messages and the pipeline cache key. */
  name: string;
  /** The part of a training step this kernel belongs to (the step benchmark books its time there). */
  category: Category;
  /** WGSL source text (imported from shaders/*.wgsl). */
  source: string;
  /** Entry point; defaults to 'main'. */
  entry?: string;
  /** Every buffer the entry point uses, by its WGSL variable name, and how. */
  bindings: Record<string, BindingAccess>;
  /** Where each line of `source` came from (composeWgsl): compile errors name the file and line. */
  origin?: WgslOrigin;
  /** The constants `source` was composed with: part of the pipeline cache key. */
  defines?: Record<string, number>;
}

export interface UniformField {
  name: string;
  offset: number;
  type: 'f32' | 'u32' | 'i32';
}

export interface ReflectedKernel {
  entry: string;
  workgroupSize: [number, number, number];
  /** binding index -> name/access, all in group 0 */
  bindings: { name: string; binding: number; access: BindingAccess }[];
  /**
   * The single uniform struct, if the entry point uses one: all its fields (the layout), and
   * `used`, the names of those the entry point reads; a dispatch gives exactly those.
   */
  uniform: { name: string; size: number; fields: UniformField[]; used: string[] } | null;
  overrides: string[];
}

const reflectCache = new Map<string, WgslReflect>();

/** Reflect `spec` and check it against its WGSL. Throws a message naming the binding that disagrees. */
export function reflectKernel(spec: KernelSpec): ReflectedKernel {
  const entry = spec.entry ?? 'main';
  const where = `kernel '${spec.name}' (entry point '${entry}')`;
  let reflect = reflectCache.get(spec.source);
  if (!reflect) {
    try {
      reflect = new WgslReflect(spec.source);
    } catch (e) {
      throw new Error(`${where}: WGSL does not parse: ${mapWgslMessage((e as Error).message, spec.origin)}`);
    }
    reflectCache.set(spec.source, reflect);
  }
  const fn = reflect.entry.compute.find((f) => f.name === entry);
  if (!fn) {
    const have = reflect.entry.compute.map((f) => f.name).join(', ') || 'none';
    throw new Error(`${where}: the WGSL has no @compute entry point '${entry}' (it has: ${have})`);
  }
  if (!fn.workgroupSize) throw new Error(`${where}: the entry point has no @workgroup_size`);
  const overrides = (reflect.overrides ?? []).map((o) => o.name);
  for (const a of fn.attributes ?? []) {
    if (a.name !== 'workgroup_size') continue;
    for (const v of [a.value].flat()) {
      if (typeof v === 'string' && overrides.includes(v)) {
        throw new Error(`${where}: @workgroup_size uses override '${v}', which reflection cannot see; make it a composed constant (composeWgsl)`);
      }
    }
  }
  const bindings: ReflectedKernel['bindings'] = [];
  let uniform: ReflectedKernel['uniform'] = null;
  const seen = new Set<string>();
  for (const res of fn.resources) {
    if (res.group !== 0) throw new Error(`${where}: binding '${res.name}' is in @group(${res.group}); all bindings must be in @group(0)`);
    const isUniform = reflect.uniforms.some((u) => u.name === res.name);
    const access: BindingAccess = isUniform ? 'uniform' : res.access === 'read_write' || res.access === 'write' ? 'read_write' : 'read';
    const declared = spec.bindings[res.name];
    if (declared === undefined) {
      throw new Error(`${where}: the WGSL uses binding '${res.name}' (@binding(${res.binding}), ${access}) that the TypeScript spec does not declare`);
    }
    if (declared !== access) {
      throw new Error(`${where}: binding '${res.name}' is '${access}' in the WGSL but '${declared}' in the TypeScript spec`);
    }
    seen.add(res.name);
    bindings.push({ name: res.name, binding: res.binding, access });
    if (isUniform) {
      if (uniform) throw new Error(`${where}: more than one uniform buffer ('${uniform.name}', '${res.name}'); use one params struct`);
      const members = (res.type as unknown as { members?: { name: string; offset: number; type: { name: string } }[] }).members;
      if (!members) throw new Error(`${where}: uniform '${res.name}' must be a struct of scalars`);
      const fields = members.map((m) => {
        const t = m.type.name;
        if (t !== 'f32' && t !== 'u32' && t !== 'i32') {
          throw new Error(`${where}: uniform field '${res.name}.${m.name}' has type ${t}; only f32, u32 and i32 scalars are supported`);
        }
        return { name: m.name, offset: m.offset, type: t } as UniformField;
      });
      const used = fieldsRead(spec.source, fn, res.name, fields);
      uniform = { name: res.name, size: Math.max(16, Math.ceil(res.type.size / 16) * 16), fields, used };
    }
  }
  for (const name of Object.keys(spec.bindings)) {
    if (!seen.has(name)) {
      throw new Error(`${where}: the TypeScript spec declares binding '${name}' but the entry point does not use it (WGSL drops unused bindings)`);
    }
  }
  bindings.sort((a, b) => a.binding - b.binding);
  return {
    entry,
    workgroupSize: fn.workgroupSize as [number, number, number],
    bindings,
    uniform,
    overrides,
  };
}

interface FunctionLines {
  name: string;
  startLine: number;
  endLine: number;
  calls: Set<FunctionLines>;
}

/**
 * The fields of uniform `name` that `entry` or any function it calls reads (`name.field`, comments
 * aside); all of them where the struct is used as a whole.
 */
function fieldsRead(source: string, entry: FunctionLines, name: string, fields: UniformField[]): string[] {
  const lines = source.split('\n');
  const used = new Set<string>();
  const member = new RegExp(`\\b${name}\\s*\\.\\s*([A-Za-z_]\\w*)`, 'g');
  const whole = new RegExp(`\\b${name}\\b(?!\\s*\\.)`);
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const f = queue.pop()!;
    if (seen.has(f.name)) continue;
    seen.add(f.name);
    const body = lines.slice(f.startLine - 1, f.endLine).map((l) => l.replace(/\/\/.*$/, '')).join('\n');
    if (whole.test(body)) return fields.map((x) => x.name);
    for (const m of body.matchAll(member)) used.add(m[1]);
    queue.push(...f.calls);
  }
  return fields.map((x) => x.name).filter((x) => used.has(x));
}

/**
 * Pack named uniform values into the struct layout the WGSL declares. Exactly the fields the entry
 * point reads must be given (the others stay 0): a value the entry point never reads is an error,
 * so no call site passes a dummy to fill a struct it shares with other entry points.
 */
export function packUniforms(kernelName: string, u: NonNullable<ReflectedKernel['uniform']>, values: Record<string, number>, out: DataView, base: number): void {
  for (const f of u.fields) {
    if (!u.used.includes(f.name)) continue;
    const v = values[f.name];
    if (v === undefined || Number.isNaN(v)) {
      throw new Error(`kernel '${kernelName}': uniform '${u.name}.${f.name}' was not given a value (got ${v})`);
    }
    if (f.type === 'f32') out.setFloat32(base + f.offset, v, true);
    else if (f.type === 'u32') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`kernel '${kernelName}': uniform '${u.name}.${f.name}' is u32 but got ${v}`);
      out.setUint32(base + f.offset, v, true);
    } else {
      if (!Number.isInteger(v)) throw new Error(`kernel '${kernelName}': uniform '${u.name}.${f.name}' is i32 but got ${v}`);
      out.setInt32(base + f.offset, v, true);
    }
  }
  for (const k of Object.keys(values)) {
    if (!u.fields.some((f) => f.name === k)) {
      throw new Error(`kernel '${kernelName}': '${k}' is not a field of uniform '${u.name}' (fields: ${u.fields.map((f) => f.name).join(', ')})`);
    }
    if (!u.used.includes(k)) {
      throw new Error(`kernel '${kernelName}': its entry point does not read uniform field '${u.name}.${k}' (it reads: ${u.used.join(', ') || 'none'}); pass only those`);
    }
  }
}
