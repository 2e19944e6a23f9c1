// Writes docs/TABLES.md (every table, its owning room and its schema file) from the *.schema.ts
// files of src/. Run by `npm run tables`; a test fails when the committed file differs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTablesDoc } from './tables.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, 'docs', 'TABLES.md');
fs.writeFileSync(target, renderTablesDoc(path.join(root, 'src')));
console.log(`wrote ${path.relative(root, target)}`);
