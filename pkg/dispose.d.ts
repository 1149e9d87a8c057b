// The generated classes declare `[Symbol.dispose]()`, so `using client = new
// RocketRideClient(…)` closes it at the end of the block. TypeScript declares
// `Symbol.dispose` only in lib "esnext.disposable" (or "esnext"); this declares it the same
// way the lib does (as @types/node does too), so the package type-checks under any `lib`
// without `skipLibCheck`, and the declarations merge where the lib has it.
declare global {
  interface SymbolConstructor {
    /** The method a `using` declaration calls at the end of its block. */
    readonly dispose: unique symbol;
  }
}

export {};
