// Every op, by family. Each family's file holds the op's meaning (forward and backward), its CPU
// reference kernel, the Kernel objects that pair it with the family's GPU program
// (src/gpu/programs/<family>.ts, which composes shaders/<family>.wgsl and dispatches it), and
// registers its checks for `wrn check`.
export * from './elementwise.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './skipadd.js';
export * from './pool.js';
export * from './loss.js';
export * from './dropout.js';
export * from './sgd.js';
export * from './batchnorm.js';
export * from './conv2d.js';
export * from './bn_fused.js';
