#!/usr/bin/env node
/**
 * Entry point. Node 20's V8 can abort with a fatal "unreachable code" in the deoptimizer when it
 * inlines JS→Wasm calls into hot code (seen under sustained load on cedar-wasm decisions). The flag
 * must be set before any Wasm module is compiled, hence before the CLI and its imports load.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-turbo-inline-js-wasm-calls');
await import('./program.js');
