// Reading a bulk result in any line order: since API 2026-01 Shopify writes bulk query results
// ungrouped, so a child line may come before its parent or far from it.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeRandom } from '../simulator/seed.js';
import { readBulkObjects, type BulkRecord } from './bulk-runner.js';

const PRODUCTS = 40;
const productId = (p: number) => `gid://shopify/Product/${p}`;
const variantId = (p: number, v: number) => `gid://shopify/ProductVariant/${p * 10 + v}`;

/** Products, each with 3 variants, each variant with 2 inventory levels (a second nesting level). */
function groupedLines(): BulkRecord[] {
  const lines: BulkRecord[] = [];
  for (let p = 1; p <= PRODUCTS; p++) {
    lines.push({ id: productId(p), title: `Product ${p}` });
    for (let v = 1; v <= 3; v++) {
      lines.push({ id: variantId(p, v), sku: `SKU-${p}-${v}`, __parentId: productId(p) });
      for (let l = 1; l <= 2; l++)
        lines.push({
          id: `gid://shopify/InventoryLevel/${l}?inventory_item_id=${p * 10 + v}`,
          available: l,
          __parentId: variantId(p, v),
        });
    }
  }
  return lines;
}

/** What a correct reader hands over, whatever the order: each product with its variants and their levels. */
function expectedObjects() {
  return Array.from({ length: PRODUCTS }, (_, i) => {
    const p = i + 1;
    return {
      root: { id: productId(p), title: `Product ${p}` },
      ProductVariant: [1, 2, 3].map((v) => variantId(p, v)),
      InventoryLevel: [1, 2, 3]
        .flatMap((v) => [1, 2].map((l) => `gid://shopify/InventoryLevel/${l}?inventory_item_id=${p * 10 + v}`))
        .sort(),
    };
  });
}

function shuffled(lines: BulkRecord[], seed: number): BulkRecord[] {
  const random = makeRandom(seed);
  const copy = [...lines];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Serves `text` in chunks of `chunkSize` bytes (lines are cut across chunks). */
function served(text: string, chunkSize: number) {
  return async () => {
    const bytes = Buffer.from(text, 'utf8');
    let at = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.length) return controller.close();
          controller.enqueue(new Uint8Array(bytes.subarray(at, at + chunkSize)));
          at += chunkSize;
        },
      }),
    );
  };
}

let tempDir: string;
beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bulk-runner-test-'));
});
afterAll(() => rm(tempDir, { recursive: true, force: true }));

async function read(lines: BulkRecord[], chunkSize = 64 * 1024) {
  const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  const objects = [];
  for await (const { root, children } of readBulkObjects('https://bulk.example/result.jsonl', {
    fetchFile: served(text, chunkSize),
    tempDir,
  })) {
    objects.push({
      root,
      ProductVariant: (children.get('ProductVariant') ?? []).map((c) => String(c['id'])).sort(),
      InventoryLevel: (children.get('InventoryLevel') ?? []).map((c) => String(c['id'])).sort(),
    });
  }
  return objects.sort(
    (a, b) => Number(String(a.root['id']).split('/').pop()) - Number(String(b.root['id']).split('/').pop()),
  );
}

describe('readBulkObjects', () => {
  test('grouped, shuffled, children-first and reversed files give the same objects, each with exactly its descendants', async () => {
    const grouped = groupedLines();
    const orders: Array<[string, BulkRecord[]]> = [
      ['grouped', grouped],
      ['shuffled (seed 1)', shuffled(grouped, 1)],
      ['shuffled (seed 2)', shuffled(grouped, 2)],
      [
        'children first',
        [...grouped.filter((l) => l.__parentId !== undefined), ...grouped.filter((l) => l.__parentId === undefined)],
      ],
      ['reversed', [...grouped].reverse()],
    ];
    for (const [name, lines] of orders) {
      expect({ name, objects: await read(lines) }).toEqual({ name, objects: expectedObjects() });
    }
    // Lines cut across many small network chunks read the same.
    expect(await read(shuffled(grouped, 3), 7)).toEqual(expectedObjects());
    // The lines really were out of order: children come before their parent.
    const sample = shuffled(grouped, 1);
    const position = new Map(sample.map((l, i) => [l['id'], i]));
    expect(
      sample.filter((l, i) => l.__parentId !== undefined && position.get(l.__parentId)! > i).length,
    ).toBeGreaterThan(50);
  });

  test('the temporary copy of the file is removed when the read ends, also when the reader stops early', async () => {
    await read(shuffled(groupedLines(), 4));
    expect(await readdir(tempDir)).toEqual([]);
    const text = groupedLines()
      .map((l) => JSON.stringify(l))
      .join('\n');
    for await (const object of readBulkObjects('https://bulk.example/result.jsonl', {
      fetchFile: served(text, 1024),
      tempDir,
    })) {
      expect(object.root['id']).toBe(productId(1));
      break;
    }
    expect(await readdir(tempDir)).toEqual([]);
  });

  test('a line whose parent is not in the file fails the read, naming both', async () => {
    const lines = [
      ...groupedLines(),
      { id: 'gid://shopify/ProductVariant/999', __parentId: 'gid://shopify/Product/999' },
    ];
    await expect(read(shuffled(lines, 5))).rejects.toThrow(
      'Bulk line for gid://shopify/ProductVariant/999 names parent gid://shopify/Product/999, which is not in the result.',
    );
  });

  test('a line that is not JSON fails the read with its line number', async () => {
    const text = `${JSON.stringify({ id: productId(1) })}\n${JSON.stringify({ id: variantId(1, 1), __parentId: productId(1) })}\n{"id": "gid://shopify/Product/2"\n`;
    const reading = async () => {
      for await (const _ of readBulkObjects('https://bulk.example/result.jsonl', {
        fetchFile: served(text, 16),
        tempDir,
      }))
        void _;
    };
    await expect(reading()).rejects.toThrow('Line 3 of the bulk result is not JSON.');
    expect(await readdir(tempDir)).toEqual([]);
  });

  test('no URL (Shopify found no objects) reads nothing', async () => {
    const objects = [];
    for await (const object of readBulkObjects(null)) objects.push(object);
    expect(objects).toEqual([]);
  });
});
