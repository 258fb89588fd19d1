// Every op, by family. Each family's file holds the op's meaning (forward and backward), its CPU
// reference kernel and the dispatch of its WGSL kernel (shaders/<family>.wgsl).
export * from './elementwise.js';
export * from './reduce.js';
export * from './matmul.js';
