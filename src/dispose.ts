/**
 * `await using iot = await startFakeIot()` needs `Symbol.asyncDispose`. Node.js (≥ 18.18) defines it as
 * `Symbol.for('nodejs.asyncDispose')`, but not inside `vm` contexts such as Jest 29's test environment,
 * where TypeScript's `await using` helper would then fail. Defining the same registry symbol there makes
 * `await using` work in every realm that loads this library, and changes nothing where it already exists.
 */
const symbols = Symbol as unknown as { asyncDispose?: symbol; dispose?: symbol };
if (symbols.asyncDispose === undefined) Object.defineProperty(Symbol, 'asyncDispose', { value: Symbol.for('nodejs.asyncDispose') });
if (symbols.dispose === undefined) Object.defineProperty(Symbol, 'dispose', { value: Symbol.for('nodejs.dispose') });

export const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose;
