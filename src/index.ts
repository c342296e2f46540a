/**
 * The package entry, `import … from 'dotctl'`: the public API of the engine (src/engine.ts),
 * nothing more. Every other module is internal and may change without notice.
 */
export * from './engine.js';
