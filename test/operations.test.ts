// Every GraphQL document Switchyard sends is valid against Shopify's real Admin schema (2026-07), and
// every query stays under Shopify's 1,000-point limit with the cost it reserves.
import { getOperationAST, parse, validate } from 'graphql';
import { describe, expect, test } from 'vitest';
import { loadAdminSchema } from '../src/simulator/admin-schema.js';
import { requestedCost } from '../src/simulator/cost.js';
import { ALL_OPERATIONS } from '../src/shopify/operations.js';
import { BulkOperationStatus, BulkRunMutation, BulkRunQuery, StagedUploadsCreate } from '../src/shopify/bulk-runner.js';
import { BULK_QUERIES } from '../src/ingest/initial-load.js';
import { checkBulkQuery } from '../src/simulator/bulk.js';

const schema = loadAdminSchema('2026-07');
const operations = [...ALL_OPERATIONS, BulkRunQuery, BulkOperationStatus, StagedUploadsCreate, BulkRunMutation];

describe('connector operations against the real Admin schema', () => {
  test.each(operations.map((op) => [op.name, op] as const))('%s is valid, named, and reserves its real cost', (_name, op) => {
    const document = parse(op.document);
    expect(validate(schema, document).map((e) => e.message)).toEqual([]);
    const operation = getOperationAST(document)!;
    expect(operation.name?.value).toBe(op.name);
    const cost = requestedCost(schema, document, operation, {});
    expect(cost).toBeLessThanOrEqual(1000);
    expect(op.estimatedCost).toBe(cost);
  });

  test.each(Object.entries(BULK_QUERIES))('bulk query %s is valid and within bulk limits', (_name, query) => {
    const document = parse(query);
    expect(validate(schema, document).map((e) => e.message)).toEqual([]);
    expect(checkBulkQuery(schema, document)).toBeNull();
  });
});
