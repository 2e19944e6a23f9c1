// The real Shopify Admin GraphQL schema, as Shopify publishes it inside the npm package
// @shopify/dev-mcp. Fetched with `npm pack` on first use, verified by sha256, cached outside git.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { buildClientSchema, type GraphQLSchema, type IntrospectionQuery } from 'graphql';

export const SCHEMA_PACKAGE = '@shopify/dev-mcp@1.16.0';

/** sha256 of `package/dist/data/admin_<version>.json.gz` in the package above. */
export const SCHEMA_SHA256: Record<string, string> = {
  '2026-07': '5bcde995c89c59acdb2ee494378d96f45ce7378a16ec829a74b71d696a08ef19',
};

export const DEFAULT_SCHEMA_CACHE_DIR = fileURLToPath(new URL('../../.cache/shopify-schema', import.meta.url));

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Path of the verified schema file for `version`, fetching it when the cache lacks it. */
export function ensureAdminSchemaFile(version: string, cacheDir: string = DEFAULT_SCHEMA_CACHE_DIR): string {
  const expected = SCHEMA_SHA256[version];
  if (!expected)
    throw new Error(
      `No pinned Admin schema for API version ${version}; known: ${Object.keys(SCHEMA_SHA256).join(', ')}`,
    );
  const file = join(cacheDir, `admin_${version}.json.gz`);
  if (existsSync(file) && sha256(readFileSync(file)) === expected) return file;

  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'switchyard-schema-'));
  try {
    const tarball = execFileSync('npm', ['pack', SCHEMA_PACKAGE, '--silent'], { cwd: work, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const member = `package/dist/data/admin_${version}.json.gz`;
    execFileSync('tar', ['xzf', tarball, member], { cwd: work });
    const data = readFileSync(join(work, member));
    const actual = sha256(data);
    if (actual !== expected)
      throw new Error(`Admin schema ${version} from ${SCHEMA_PACKAGE} has sha256 ${actual}, expected ${expected}`);
    renameSync(join(work, member), file);
    return file;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const loaded = new Map<string, GraphQLSchema>();

/** The Admin schema for `version`, built once per process. */
export function loadAdminSchema(version: string, cacheDir?: string): GraphQLSchema {
  const cached = loaded.get(version);
  if (cached) return cached;
  const json = JSON.parse(gunzipSync(readFileSync(ensureAdminSchemaFile(version, cacheDir))).toString('utf8')) as {
    data: IntrospectionQuery;
  };
  const schema = buildClientSchema(json.data, { assumeValid: true });
  loaded.set(version, schema);
  return schema;
}
