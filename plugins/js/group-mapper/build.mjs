// Builds this plugin into a WebAssembly component with componentize-js
// (default build: SpiderMonkey interpreter, no AOT, nothing downloaded).
//
//   node build.mjs [output.wasm]      (npm run build -- [output.wasm])
//
// The default output is <repository>/target/plugins/group-mapper-js.wasm.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');

const source = 'group-mapper.js';
const world = 'assignment-provider-plugin';
const wit = resolve(root, 'wit');
const out = resolve(process.argv[2] ?? resolve(root, 'target/plugins/group-mapper-js.wasm'));

// Every WASI feature of the engine is disabled: the component then imports
// only provisio:plugin/host plus the wasi:cli/io/filesystem interfaces of the
// preview1 adapter, all on the host's allow-list. Keep 'random' (drop it from
// this list) if the plugin calls Math.random, crypto.getRandomValues or the
// helper's usernameFrom/defaultAccount: that adds wasi:random, also allowed.
const disableFeatures = ['stdio', 'random', 'clocks', 'http', 'fetch-event'];

// componentize-js maps the source's directory into the engine while it
// pre-initializes the module; relative imports must stay inside it.
process.chdir(here);
const started = performance.now();
const { component } = await componentize({
  sourcePath: resolve(here, source),
  witPath: wit,
  worldName: world,
  disableFeatures,
});
await mkdir(dirname(out), { recursive: true });
await writeFile(`${out}.tmp`, component);
await rename(`${out}.tmp`, out);
const ms = Math.round(performance.now() - started);
console.log(`${source} -> ${out} (${component.length} bytes, world ${world}, ${ms} ms)`);
