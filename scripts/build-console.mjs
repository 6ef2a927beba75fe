// Copies the console's static files beside its compiled scripts (dist/console), at package build
// time: the broker serves that directory as it is and compiles nothing at run time.
import { copyFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist/console', { recursive: true });
for (const f of ['index.html', 'style.css']) copyFileSync(`console/${f}`, `dist/console/${f}`);
