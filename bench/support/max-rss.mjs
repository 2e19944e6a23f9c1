// Loaded with `node --import` into a process a benchmark measures: when the process ends, prints its
// peak resident memory (the kernel's high-water mark) on stderr, for the benchmark to read.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\nmax-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
