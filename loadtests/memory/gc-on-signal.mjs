// Preloaded into the load-test replicas (NODE_OPTIONS=--expose-gc --import=...): SIGWINCH runs a full garbage
// collection, so the memory scenario reads the heap the process keeps alive rather than garbage awaiting collection.
// SIGWINCH because its default is to be ignored (a replica without this file is unharmed) and close-with-grace
// does not treat it as a shutdown signal (it does SIGUSR2). Plain JavaScript: it loads before tsx's loader.
process.on('SIGWINCH', () => globalThis.gc?.());
