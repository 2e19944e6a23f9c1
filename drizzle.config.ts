import { defineConfig } from 'drizzle-kit';

// One schema (spread over the rooms that own the tables) and one migrations folder for both backends.
export default defineConfig({
  dialect: 'postgresql',
  schema: [
    './src/platform/db/*.schema.ts',
    './src/shopify/*.schema.ts',
    './src/ingest/*.schema.ts',
    './src/outbound/*.schema.ts',
    './src/domains/*/*.schema.ts',
  ],
  out: './migrations',
});
