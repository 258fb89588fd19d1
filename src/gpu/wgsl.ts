// WGSL composition: the one way a kernel's source is put together from shaders/*.wgsl. A program
// names its files by repository path, puts compile-time constants (tile shapes, workgroup sizes)
// first and shared files (includes) before its own; the composed source keeps a line map, so a
// compile error (from wgsl_reflect when the kernel is reflected, or from the WebGPU compiler) is
// reported at the file and line it came from, not at a line of the concatenation.

/** A WGSL file: its path in the repository and its text (an import of shaders/*.wgsl). */
export interface WgslFile {
  path: string;
  text: string;
}

/** Where line `line` (1-based) of a composed source came from. */
export type WgslOrigin = (line: number) => { path: string; line: number };

export interface ComposedWgsl {
  source: string;
  origin: WgslOrigin;
  /** The constants it was composed with: part of the pipeline cache key. */
  defines: Record<string, number>;
}

const files = new Map<string, string>();

/** Name a shader file (checked against the repository by the tests: the path must hold this text). */
export function wgslFile(path: string, text: string): WgslFile {
  const known = files.get(path);
  if (known !== undefined && known !== text) throw new Error(`wgslFile: '${path}' was given two different texts`);
  files.set(path, text);
  return { path, text };
}

/** Every shader file named so far (for the test that each path holds its text). */
export function knownWgslFiles(): ReadonlyMap<string, string> {
  return files;
}

export const CONSTANTS_PATH = '(composed constants)';

// A WGSL directive (`enable subgroups;`): it must precede every declaration of the module.
const DIRECTIVE = /^\s*(enable|requires|diagnostic)\b[^;]*;\s*$/;

/**
 * `main` after `includes` (in order), after one `const NAME: u32 = Vu;` line per constant. The
 * constants are u32 (the kernels' sizes and counts); an include may use a constant, and `main` may
 * use both. Directives (`enable ...;`) of any file go first, each mapped to its own file and line.
 */
export function composeWgsl(main: WgslFile, opts: { constants?: Record<string, number>; includes?: readonly WgslFile[] } = {}): ComposedWgsl {
  const constants = opts.constants ?? {};
  const segments: { path: string; start: number; count: number; first: number }[] = [];
  const parts: string[] = [];
  let line = 1;
  const add = (path: string, text: string, first = 1) => {
    const body = text.endsWith('\n') ? text.slice(0, -1) : text;
    const count = body.split('\n').length;
    segments.push({ path, start: line, count, first });
    parts.push(body);
    line += count;
  };
  const files = [...(opts.includes ?? []), main];
  for (const f of files) f.text.split('\n').forEach((l, i) => DIRECTIVE.test(l) && add(f.path, l, i + 1));
  // The directives' own lines stay, blank, so every other line keeps its number.
  const bodyOf = (f: WgslFile) => f.text.split('\n').map((l) => (DIRECTIVE.test(l) ? '' : l)).join('\n');
  const names = Object.keys(constants);
  if (names.length) {
    add(
      CONSTANTS_PATH,
      names
        .map((k) => {
          const v = constants[k];
          if (!/^[A-Za-z_]\w*$/.test(k)) throw new Error(`composeWgsl(${main.path}): constant name '${k}' is not a WGSL identifier`);
          if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`composeWgsl(${main.path}): constant ${k} = ${v} is not a u32`);
          return `const ${k}: u32 = ${v}u;`;
        })
        .join('\n'),
    );
  }
  for (const inc of opts.includes ?? []) add(inc.path, bodyOf(inc));
  add(main.path, bodyOf(main));
  const origin: WgslOrigin = (l) => {
    const s = segments.find((g) => l >= g.start && l < g.start + g.count);
    return s ? { path: s.path, line: l - s.start + s.first } : { path: main.path, line: l };
  };
  return { source: parts.join('\n') + '\n', origin, defines: { ...constants } };
}

/**
 * Rewrite the line references in a compiler message (`Line: 12` from wgsl_reflect, `:12:5` from
 * Tint) to `path:line(:col)` of the file they came from.
 */
export function mapWgslMessage(message: string, origin: WgslOrigin | undefined): string {
  if (!origin) return message;
  const at = (l: number, col?: string) => {
    const o = origin(l);
    return `${o.path}:${o.line}${col ? `:${col}` : ''}`;
  };
  return message.replace(/\bLine: (\d+)/g, (_, l) => `at ${at(Number(l))}`).replace(/(^|\s):(\d+):(\d+)(?=\s|:|$)/gm, (_, pre, l, c) => `${pre}${at(Number(l), c)}`);
}
