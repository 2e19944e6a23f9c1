// Every GraphQL document Switchyard sends is valid against Shopify's real Admin schema (2026-07), and
// every query stays under Shopify's 1,000-point limit with the cost it reserves.
import {
  getOperationAST,
  isObjectType,
  parse,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
} from 'graphql';
import { describe, expect, test } from 'vitest';
import { loadAdminSchema } from '../src/simulator/admin-schema.js';
import { requestedCost } from '../src/simulator/cost.js';
import { ALL_OPERATIONS } from '../src/shopify/operations.js';
import { BulkOperationStatus, BulkRunMutation, BulkRunQuery, StagedUploadsCreate } from '../src/shopify/bulk-runner.js';
import { BULK_QUERIES } from '../src/ingest/initial-load.js';
import { checkBulkQuery } from '../src/simulator/bulk.js';
import { scopeRulesOf } from '../src/simulator/scopes.js';
import { isGranted, missingScopes, SCOPES_NEEDED, scopesNeeded } from '../src/shopify/scopes.js';
import { HANDLED_TOPICS, subscriptionTopic } from '../src/ingest/topics.js';

const schema = loadAdminSchema('2026-07');
const operations = [...ALL_OPERATIONS, BulkRunQuery, BulkOperationStatus, StagedUploadsCreate, BulkRunMutation];

describe('connector operations against the real Admin schema', () => {
  test.each(operations.map((op) => [op.name, op] as const))(
    '%s is valid, named, and reserves its real cost',
    (_name, op) => {
      const document = parse(op.document);
      expect(validate(schema, document).map((e) => e.message)).toEqual([]);
      const operation = getOperationAST(document)!;
      expect(operation.name?.value).toBe(op.name);
      const cost = requestedCost(schema, document, operation, {});
      expect(cost).toBeLessThanOrEqual(1000);
      expect(op.estimatedCost).toBe(cost);
    },
  );

  test.each(Object.entries(BULK_QUERIES))('bulk query %s is valid and within bulk limits', (_name, query) => {
    const document = parse(query);
    expect(validate(schema, document).map((e) => e.message)).toEqual([]);
    expect(checkBulkQuery(schema, document)).toBeNull();
  });
});

describe('the access scopes Switchyard lists (src/shopify/scopes.ts)', () => {
  const rules = scopeRulesOf(schema);
  /** Every scope requirement met on the way through a document (each is "any one of"). */
  const requirementsOf = (document: DocumentNode) => {
    const typeInfo = new TypeInfo(schema);
    const found: Array<{ at: string; required: readonly string[] }> = [];
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          const parent = typeInfo.getParentType();
          const required = isObjectType(parent) ? rules.field(parent, node.name.value) : undefined;
          if (required) found.push({ at: `${parent!.name}.${node.name.value}`, required });
        },
        InlineFragment(node) {
          const type = node.typeCondition?.name.value;
          const required = type ? rules.type(type) : undefined;
          if (required) found.push({ at: `... on ${type}`, required });
        },
      }),
    );
    return found;
  };
  const everyRequirement = [
    ...[...operations.map((op) => [op.name, op.document] as const), ...Object.entries(BULK_QUERIES)].flatMap(
      ([name, document]) => requirementsOf(parse(document)).map((r) => ({ ...r, at: `${name}: ${r.at}` })),
    ),
    ...[...HANDLED_TOPICS].flatMap((topic) => {
      const required = rules.topic(subscriptionTopic(topic));
      return required ? [{ at: `webhook ${topic}`, required }] : [];
    }),
  ];

  test('cover every field Switchyard reads or writes and every topic it subscribes to', () => {
    const listed = SCOPES_NEEDED.map((n) => n.scope);
    expect(
      everyRequirement
        .filter((r) => !r.required.some((scope) => isGranted(listed, scope)))
        .map((r) => `${r.at} needs ${r.required.join(' or ')}`),
    ).toEqual([]);
  });

  test('and nothing else: each listed scope is the only one listed to meet some requirement', () => {
    for (const need of SCOPES_NEEDED) {
      const others = SCOPES_NEEDED.filter((n) => n !== need).map((n) => n.scope);
      // Exact names here: a listed read_x is needed in its own right, not only through write_x.
      expect({
        scope: need.scope,
        needed: everyRequirement.some((r) => !r.required.some((scope) => others.includes(scope))),
      }).toEqual({ scope: need.scope, needed: true });
    }
  });

  test('write_x includes read_x; read_all_orders only for a window past 60 days', () => {
    const granted = ['write_orders', 'write_inventory', 'read_products'];
    expect(missingScopes(granted, SCOPES_NEEDED).map((n) => n.scope)).toEqual([
      'read_locations',
      'read_customers',
      'read_merchant_managed_fulfillment_orders',
      'write_merchant_managed_fulfillment_orders',
    ]);
    expect(scopesNeeded(1).map((n) => n.scope)).not.toContain('read_all_orders');
    expect(
      scopesNeeded(2)
        .map((n) => n.scope)
        .at(-1),
    ).toBe('read_all_orders');
  });
});
