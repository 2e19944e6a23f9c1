import { readFileSync } from 'node:fs';

/** The package version (read once; cheap enough for `--help`). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];
