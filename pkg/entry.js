// What every entry of the package ("runwatch", "runwatch/fleet-rlm") does around its
// wasm-bindgen module: memoised init, a clear error for a client made before init, and the
// lifetime rule for open clients. Not an entry point itself.

/**
 * `init`/`initSync` over wasm-bindgen's, and `requireInit(Class)`:
 * - `init(input?)` loads and instantiates the module once; calling it again, or
 *   concurrently, returns the same promise; after a failure the next call retries. `input`
 *   goes to wasm-bindgen's init unchanged (e.g. `{ module_or_path: url }`).
 * - `initSync(module)` is wasm-bindgen's synchronous init, recorded so `init()` resolves after it.
 * - `requireInit(Class)`: the class behind a Proxy whose only job is to throw a clear Error
 *   when it is constructed before init has finished, instead of wasm-bindgen's "Cannot read
 *   properties of undefined". Statics, `instanceof` and subclassing behave as on the class.
 */
export function entryPoint(wbgInit, wbgInitSync) {
  let ready; // Promise<InitOutput> of the first successful (or in-flight) init
  let initialized = false;
  return {
    init(input) {
      ready ??= (input === undefined ? wbgInit() : wbgInit(input)).then(
        (exports) => { initialized = true; return exports; },
        (err) => { ready = undefined; throw err; },
      );
      return ready;
    },
    initSync(module) {
      const exports = wbgInitSync(module);
      initialized = true;
      ready = Promise.resolve(exports);
      return exports;
    },
    requireInit: (Class) => Class && new Proxy(Class, {
      construct(target, args, newTarget) {
        if (!initialized) throw new Error("runwatch: call `await init()` before creating a client");
        return Reflect.construct(target, args, newTarget);
      },
    }),
  };
}

// Lifetime rule: an open client stays reachable until `close()`/`free()`, so garbage
// collection of a forgotten reference never closes a live connection or silences a
// callback. wasm-bindgen frees a collected wrapper through a FinalizationRegistry, and
// freeing closes, so open clients are held here, strongly, for exactly as long as they are open.
export const openClients = new Set();

/** `Base` whose instances are held in `openClients` from construction until `close()` or `free()`. */
export function keptOpen(Base) {
  if (!Base) return Base;
  for (const name of ["close", "free"]) {
    const method = Base.prototype[name];
    Base.prototype[name] = function (...args) {
      openClients.delete(this);
      return method.apply(this, args);
    };
  }
  disposesByFree(Base);
  return new Proxy(Base, {
    construct(target, args, newTarget) {
      const client = Reflect.construct(target, args, newTarget);
      openClients.add(client);
      return client;
    },
  });
}

/** `[Symbol.dispose]` is the `free` of when the module loaded: make it the current one. */
export function disposesByFree(Class) {
  if (Class && typeof Symbol.dispose === "symbol" && Class.prototype[Symbol.dispose]) Class.prototype[Symbol.dispose] = Class.prototype.free;
}

/** The `RunwatchError` the module throws for a usage error, made in JavaScript. */
export function runwatchError(code, message) {
  return Object.assign(new Error(message), { name: "RunwatchError", code });
}
