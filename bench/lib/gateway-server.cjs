// Starts bench/lib/gateway-server.ts under tsx's in-thread CommonJS hooks (bench/gateway.ts --loader cjs):
// in a "type": "module" package Node would hand a .ts entry point to the ESM loader, whose hooks run
// on a worker thread with its own heap.
require("tsx/cjs");
require("./gateway-server.ts");
