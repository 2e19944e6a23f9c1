// Bulk operations through the official client: JSONL shape, limits, staged upload + bulk mutation.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../test/support/backend.js';
import { officialClient } from '../../test/support/simulator.js';
import { startSimulator, type ShopCredentials, type Simulator } from './server.js';
import { gid } from './state.js';

let sim: Simulator;
let creds: ShopCredentials;

beforeAll(async () => {
  sim = await startSimulator({ bulkStepMs: 30 });
  creds = sim.createShop({ seed: 31, products: 6, stores: 2, maxVariants: 3 } as never);
});
afterAll(() => sim.close());

const client = () => officialClient(sim.url, creds);

const RUN_QUERY = `mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: false) { bulkOperation { id status } userErrors { code field message } } }`;
const STATUS = `query($id: ID!) { bulkOperation(id: $id) { id status type objectCount rootObjectCount fileSize url errorCode completedAt } }`;

async function finished(id: string) {
  return waitFor('the bulk operation to finish', async () => {
    const { data } = await client().request(STATUS, { variables: { id } });
    return ['COMPLETED', 'FAILED', 'CANCELED'].includes(data.bulkOperation.status) && data.bulkOperation;
  });
}

describe('bulk queries', () => {
  const NESTED = `{ products { edges { node { id title variants { edges { node { id sku inventoryItem { id } } } } } } } }`;
  const runNested = async (grouping: string) => {
    const { data } = await client().request(
      `mutation($q: String!) { bulkOperationRunQuery(query: $q${grouping}) { bulkOperation { id status } userErrors { code field message } } }`,
      { variables: { q: NESTED } },
    );
    expect(data.bulkOperationRunQuery.userErrors).toEqual([]);
    expect(data.bulkOperationRunQuery.bulkOperation.status).toBe('CREATED');
    const op = await finished(data.bulkOperationRunQuery.bulkOperation.id);
    expect(op.status).toBe('COMPLETED');
    const shop = sim.shop(creds.shop);
    expect(op.objectCount).toBe(String(shop.products.size + shop.variants.size));
    expect(op.rootObjectCount).toBe(String(shop.products.size));
    const text = await (await fetch(op.url)).text();
    expect(op.fileSize).toBe(String(Buffer.byteLength(text)));
    return text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
  };
  /** Every product and variant once: products bare, variants linked to their product by __parentId. */
  const expectEveryObjectOnce = (lines: Array<Record<string, any>>) => {
    const shop = sim.shop(creds.shop);
    const expected = [...shop.products.values()].flatMap((p) => [
      { id: gid('Product', p.id), title: p.title },
      ...p.variantIds.map((id) => {
        const v = shop.variants.get(id)!;
        return {
          id: gid('ProductVariant', v.id),
          sku: v.sku,
          inventoryItem: { id: gid('InventoryItem', v.inventoryItemId) },
          __parentId: gid('Product', p.id),
        };
      }),
    ]);
    const byId = (a: Record<string, any>, b: Record<string, any>) => String(a['id']).localeCompare(String(b['id']));
    expect([...lines].sort(byId)).toEqual(expected.sort(byId));
  };

  test('groupObjects: true → JSONL with children right after their parent, linked by __parentId', async () => {
    const lines = await runNested(', groupObjects: true');
    expectEveryObjectOnce(lines);
    let currentProduct: string | null = null;
    for (const line of lines) {
      if (line['__parentId'] === undefined) currentProduct = line['id'];
      else expect(line['__parentId']).toBe(currentProduct); // a variant follows its product's line
    }
    const first = [...sim.shop(creds.shop).products.values()][0]!;
    expect(lines[0]).toEqual({ id: gid('Product', first.id), title: first.title });
  });

  test('groupObjects false (the default since 2026-01) → ungrouped: children before or far from their parent, the same lines', async () => {
    for (const grouping of ['', ', groupObjects: false']) {
      const lines = await runNested(grouping);
      expectEveryObjectOnce(lines);
      const position = new Map(lines.map((l, i) => [l['id'], i]));
      const children = lines.filter((l) => l['__parentId'] !== undefined);
      // Shuffled: many children come before their parent, and many are not next to a line of their family.
      expect(children.filter((c) => position.get(c['__parentId'])! > position.get(c['id'])!).length).toBeGreaterThan(
        children.length / 4,
      );
      const strays = children.filter((c) => {
        const previous = lines[position.get(c['id'])! - 1];
        return previous?.['id'] !== c['__parentId'] && previous?.['__parentId'] !== c['__parentId'];
      });
      expect(strays.length).toBeGreaterThan(children.length / 2);
    }
  });

  test('invalid bulk queries are refused with a reason', async () => {
    const cases: Array<[string, string]> = [
      ['{ shop { name } }', 'Bulk queries must contain at least one connection.'],
      [
        '{ products { edges { node { id variants { edges { node { id inventoryItem { inventoryLevels { edges { node { id } } } } } } } } } } }',
        'nesting depth greater than 2',
      ],
      [
        '{ products { edges { node { title variants { edges { node { id } } } } } } }',
        "The parent 'node' field for a nested connection must select the 'id' field",
      ],
      ['{ products { edges { node { nope } } } }', 'Invalid bulk query: Cannot query field "nope"'],
    ];
    for (const [query, message] of cases) {
      const { data } = await client().request(RUN_QUERY, { variables: { q: query } });
      expect(data.bulkOperationRunQuery.bulkOperation).toBeNull();
      expect(data.bulkOperationRunQuery.userErrors[0].message).toContain(message);
    }
    const six = `{ a: products { edges { node { id } } } b: products { edges { node { id } } } c: locations { edges { node { id } } } d: orders { edges { node { id } } } e: productVariants { edges { node { id } } } f: inventoryItems { edges { node { id } } } }`;
    const { data } = await client().request(RUN_QUERY, { variables: { q: six } });
    expect(data.bulkOperationRunQuery.userErrors[0].message).toBe(
      'Bulk queries cannot contain more than 5 connections.',
    );
  });

  test('concurrency limit per shop: 5 by default, 1 when configured; cancel; finish webhook payload', async () => {
    // Slow steps, so operations are still running while the next ones are requested.
    const slow = await startSimulator({ bulkStepMs: 400 });
    try {
      const shopCreds = slow.createShop({ seed: 32, products: 3, stores: 1 });
      const c = officialClient(slow.url, shopCreds);
      await c.request(
        `mutation { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH, webhookSubscription: { uri: "http://127.0.0.1:9/refused" }) { userErrors { message } } }`,
      );
      const done = (id: string) =>
        waitFor('the bulk operation to finish', async () => {
          const { data } = await c.request(STATUS, { variables: { id } });
          return ['COMPLETED', 'FAILED', 'CANCELED'].includes(data.bulkOperation.status) && data.bulkOperation;
        });
      slow.setBulkConcurrency(shopCreds.shop, 1);
      const query = '{ products { edges { node { id } } } }';
      const first = await c.request(RUN_QUERY, { variables: { q: query } });
      const second = await c.request(RUN_QUERY, { variables: { q: query } });
      expect(second.data.bulkOperationRunQuery.userErrors[0]).toMatchObject({ code: 'OPERATION_IN_PROGRESS' });
      const id = first.data.bulkOperationRunQuery.bulkOperation.id;
      const cancel = await c.request(
        `mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { status } userErrors { message } } }`,
        { variables: { id } },
      );
      expect(['CANCELED', 'CANCELING']).toContain(cancel.data.bulkOperationCancel.bulkOperation.status);
      expect((await done(id)).status).toBe('CANCELED');

      slow.setBulkConcurrency(shopCreds.shop, 5);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await c.request(RUN_QUERY, { variables: { q: query } })).data.bulkOperationRunQuery.bulkOperation.id);
      const sixth = await c.request(RUN_QUERY, { variables: { q: query } });
      expect(sixth.data.bulkOperationRunQuery.userErrors[0]).toMatchObject({ code: 'LIMIT_REACHED' });
      for (const each of ids) await done(each);

      const list = await c.request(`{ bulkOperations(first: 20, query: "status:COMPLETED") { nodes { id status } } }`);
      expect(list.data.bulkOperations.nodes.map((n: { id: string }) => n.id).sort()).toEqual([...ids].sort());
      const finishes = slow.webhooks(shopCreds.shop).log.filter((d) => d.topic === 'bulk_operations/finish');
      expect(finishes.map((d) => d.payload['status']).sort()).toEqual([
        'canceled',
        'completed',
        'completed',
        'completed',
        'completed',
        'completed',
      ]);
      expect(finishes.find((d) => d.payload['admin_graphql_api_id'] === ids[0])?.payload).toMatchObject({
        status: 'completed',
        type: 'query',
        error_code: null,
      });
    } finally {
      await slow.close();
    }
  });

  test("currentBulkOperation (deprecated, still in the schema) answers the app's most recent operation of a type", async () => {
    const CURRENT = `query($type: BulkOperationType) { currentBulkOperation(type: $type) { id type status } }`;
    const first = await client().request(RUN_QUERY, { variables: { q: '{ locations { edges { node { id } } } }' } });
    await finished(first.data.bulkOperationRunQuery.bulkOperation.id);
    const second = await client().request(RUN_QUERY, { variables: { q: '{ products { edges { node { id } } } }' } });
    const latestQuery = second.data.bulkOperationRunQuery.bulkOperation.id;
    await finished(latestQuery);
    const byDefault = await client().request(`{ currentBulkOperation { id type status } }`);
    expect(byDefault.errors).toBeUndefined();
    expect(byDefault.data.currentBulkOperation).toEqual({ id: latestQuery, type: 'QUERY', status: 'COMPLETED' });
    expect((await client().request(CURRENT, { variables: { type: 'QUERY' } })).data.currentBulkOperation.id).toBe(
      latestQuery,
    );
    // No bulk mutation has run yet in this shop (the staged-upload test below runs one).
    expect((await client().request(CURRENT, { variables: { type: 'MUTATION' } })).data.currentBulkOperation).toBeNull();
    // Another app of the shop has run none.
    const other = sim.addApp(creds.shop, { name: 'bulk bystander' });
    expect(
      (await officialClient(sim.url, other).request(`{ currentBulkOperation { id } }`)).data.currentBulkOperation,
    ).toBeNull();
  });

  test('result URLs expire', async () => {
    const { data } = await client().request(RUN_QUERY, {
      variables: { q: '{ locations { edges { node { id name } } } }' },
    });
    const op = await finished(data.bulkOperationRunQuery.bulkOperation.id);
    expect((await fetch(op.url)).status).toBe(200);
    sim.advanceClock(8 * 86_400_000);
    expect((await fetch(op.url)).status).toBe(403);
    const after = await client().request(STATUS, { variables: { id: op.id } });
    expect(after.data.bulkOperation).toMatchObject({ status: 'EXPIRED', url: null });
  });
});

describe('staged upload + bulk mutation', () => {
  test('round trip: stage a JSONL of variables, run the mutation, read one result line per input line', async () => {
    const staged = await client().request(
      `mutation { stagedUploadsCreate(input: [{ resource: BULK_MUTATION_VARIABLES, filename: "tags.jsonl", mimeType: "text/jsonl", httpMethod: POST }]) { stagedTargets { url resourceUrl parameters { name value } } userErrors { message } } }`,
    );
    const target = staged.data.stagedUploadsCreate.stagedTargets[0];
    const products = [...sim.shop(creds.shop).products.values()].slice(0, 3);
    const jsonl = products.map((p) => JSON.stringify({ id: gid('Product', p.id), tags: ['pre-order'] })).join('\n');
    const form = new FormData();
    for (const { name, value } of target.parameters) form.append(name, value);
    form.append('file', new Blob([jsonl], { type: 'text/jsonl' }), 'tags.jsonl');
    const upload = await fetch(target.url, { method: 'POST', body: form });
    expect(upload.status).toBe(201);

    const key = target.parameters.find((p: { name: string }) => p.name === 'key').value;
    const run = await client().request(
      `mutation($m: String!, $path: String!) { bulkOperationRunMutation(mutation: $m, stagedUploadPath: $path) { bulkOperation { id status type } userErrors { code message } } }`,
      {
        variables: {
          m: 'mutation tag($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { message } } }',
          path: key,
        },
      },
    );
    expect(run.data.bulkOperationRunMutation.userErrors).toEqual([]);
    const op = await finished(run.data.bulkOperationRunMutation.bulkOperation.id);
    expect(op).toMatchObject({ status: 'COMPLETED', type: 'MUTATION', objectCount: '3' });
    const current = await client().request(`{ currentBulkOperation(type: MUTATION) { id type status } }`);
    expect(current.data.currentBulkOperation).toEqual({ id: op.id, type: 'MUTATION', status: 'COMPLETED' });
    const lines = (await (await fetch(op.url)).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.__lineNumber).sort()).toEqual([0, 1, 2]);
    for (const line of lines)
      expect(line.data.tagsAdd).toEqual({
        node: { id: gid('Product', products[line.__lineNumber]!.id) },
        userErrors: [],
      });
    for (const product of products) expect(product.tags).toContain('pre-order');

    const missing = await client().request(
      `mutation($m: String!) { bulkOperationRunMutation(mutation: $m, stagedUploadPath: "tmp/none.jsonl") { bulkOperation { id } userErrors { code } } }`,
      {
        variables: { m: 'mutation tag($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } } }' },
      },
    );
    expect(missing.data.bulkOperationRunMutation.userErrors).toEqual([{ code: 'NO_SUCH_FILE' }]);
  });
});
