import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from the compiled test file (dist/test/... or .build-x/test/...). */
export const REPO_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
  return d;
})();

/** The compiled CLI entry point next to the compiled tests. */
export const CLI = (() => {
  const here = dirname(fileURLToPath(import.meta.url)); // <out>/test/helpers
  return join(here, '..', '..', 'src', 'cli', 'main.js');
})();
