// The package's ESM build has no types of its own path; it is the same API as the main entry.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
