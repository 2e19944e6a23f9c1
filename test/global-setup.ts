// Runs once before the test workers start: fetches and verifies the Shopify Admin schema the
// simulator needs (npm pack @shopify/dev-mcp, sha256-checked, cached in .cache/), so no worker races
// another to download it.
import { ensureAdminSchemaFile } from '../src/simulator/admin-schema.js';
import { SIMULATED_API_VERSION } from '../src/simulator/server.js';

export default function setup(): void {
  ensureAdminSchemaFile(SIMULATED_API_VERSION);
}
