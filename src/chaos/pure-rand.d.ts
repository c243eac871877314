/**
 * pure-rand 8 publishes only subpath `exports`, which the project's `moduleResolution: "node"` cannot see.
 * These modules re-export the library's own declarations, so the types are pure-rand's, not ours.
 * (With `moduleResolution: "node16"` or `"bundler"` this file can go.)
 */
declare module 'pure-rand/generator/xoroshiro128plus' {
  export * from 'pure-rand/lib/generator/xoroshiro128plus';
}
declare module 'pure-rand/distribution/uniformInt' {
  export * from 'pure-rand/lib/distribution/uniformInt';
}
declare module 'pure-rand/distribution/uniformFloat64' {
  export * from 'pure-rand/lib/distribution/uniformFloat64';
}
declare module 'pure-rand/types/JumpableRandomGenerator' {
  export * from 'pure-rand/lib/types/JumpableRandomGenerator';
}
