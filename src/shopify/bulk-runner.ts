// Runs a bulk query and reads its result: start it, follow it (a finish notification from the
// bulk_operations/finish webhook when one arrives, polling as the fallback), then download the JSONL
// without holding the file in memory. Children of nested connections are lines of their own that
// name their parent in `__parentId`; since 2026-01 Shopify writes them ungrouped (a child may come
// before its parent, or far from it), so `readBulkObjects` assembles each root object with its
// children whatever the order.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { AppError } from '../platform/errors.js';
import type { ShopifyClient } from './client.js';
import { operation } from './operation.js';
import type { UserErrorNode } from './operations.js';

export interface BulkOperationNode {
  id: string;
  status: string;
  errorCode: string | null;
  objectCount: string;
  rootObjectCount: string;
  url: string | null;
}

export const BulkRunQuery = operation<
  {
    bulkOperationRunQuery: {
      bulkOperation: { id: string; status: string } | null;
      userErrors: Array<UserErrorNode & { code: string | null }>;
    };
  },
  { query: string }
>(
  'BulkRunQuery',
  10,
  `mutation BulkRunQuery($query: String!) {
    bulkOperationRunQuery(query: $query, groupObjects: false) { bulkOperation { id status } userErrors { code field message } }
  }`,
);

export const BulkOperationStatus = operation<{ bulkOperation: BulkOperationNode | null }, { id: string }>(
  'BulkOperationStatus',
  1,
  `query BulkOperationStatus($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url } }`,
);

export type BulkRecord = Record<string, unknown> & { __parentId?: string };

/** Bulk finish notifications by operation id (fed by the bulk_operations/finish webhook). */
export interface BulkFinishSignals {
  wait(id: string, timeoutMs: number): Promise<boolean>;
  notify(id: string): void;
}

export function makeBulkFinishSignals(): BulkFinishSignals {
  const waiting = new Map<string, Array<() => void>>();
  return {
    wait(id, timeoutMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.set(
            id,
            (waiting.get(id) ?? []).filter((r) => r !== done),
          );
          resolve(false);
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          resolve(true);
        };
        waiting.set(id, [...(waiting.get(id) ?? []), done]);
      });
    },
    notify(id) {
      for (const resolve of waiting.get(id) ?? []) resolve();
      waiting.delete(id);
    },
  };
}

export interface BulkProgress {
  status: string;
  objectCount: number;
}

/** Starts a bulk query and waits for it; returns the finished operation. */
export async function runBulkQuery(
  client: ShopifyClient,
  query: string,
  options: {
    signals?: BulkFinishSignals;
    pollMs?: number;
    timeoutMs?: number;
    onProgress?: (progress: BulkProgress) => void;
    signal?: AbortSignal;
  },
): Promise<BulkOperationNode> {
  const started = await client.request(BulkRunQuery, { query });
  const { bulkOperation, userErrors } = started.bulkOperationRunQuery;
  if (!bulkOperation) {
    throw new AppError(
      'shopify.bulk_refused',
      'unavailable',
      `Shopify refused the bulk query: ${userErrors.map((e) => `${e.code ?? ''} ${e.message}`.trim()).join('; ')}`,
      { userErrors },
    );
  }
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  const pollMs = options.pollMs ?? 2_000;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    const { bulkOperation: op } = await client.request(BulkOperationStatus, { id: bulkOperation.id });
    if (!op) throw new AppError('shopify.bulk_lost', 'unavailable', `Bulk operation ${bulkOperation.id} disappeared.`);
    options.onProgress?.({ status: op.status, objectCount: Number(op.objectCount) });
    if (op.status === 'COMPLETED') return op;
    if (['FAILED', 'CANCELED', 'EXPIRED'].includes(op.status)) {
      throw new AppError(
        'shopify.bulk_failed',
        'unavailable',
        `Bulk operation ${op.id} ended ${op.status}${op.errorCode ? ` (${op.errorCode})` : ''}.`,
      );
    }
    if (Date.now() > deadline)
      throw new AppError('shopify.bulk_timeout', 'unavailable', `Bulk operation ${op.id} did not finish in time.`);
    // Wake on the finish webhook, or poll again after pollMs.
    if (options.signals) await options.signals.wait(op.id, pollMs);
    else await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Streams the JSONL result of a finished bulk operation, one parsed line at a time. */
export async function* readBulkResult(
  url: string | null,
  fetchFile: (url: string) => Promise<Response> = (u) => fetch(u),
): AsyncGenerator<BulkRecord> {
  if (!url) return; // Shopify gives no URL when there were no objects
  const response = await fetchFile(url);
  if (!response.ok || !response.body)
    throw new AppError(
      'shopify.bulk_download_failed',
      'unavailable',
      `Downloading the bulk result failed: HTTP ${response.status}.`,
    );
  const lines = createInterface({
    input: Readable.fromWeb(response.body as never),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as BulkRecord;
    } catch {
      throw new AppError('shopify.bulk_bad_line', 'unavailable', `Line ${lineNumber} of the bulk result is not JSON.`);
    }
  }
}

export interface BulkObject {
  root: BulkRecord;
  /** Its descendants (children, and their children), by GID type: `LineItem`, `ProductVariant`... */
  children: Map<string, BulkRecord[]>;
}

/**
 * Each root object of a bulk result with its descendants, whatever the order of the lines. The file
 * is spooled to a temporary file while every line's place (offset and length) is indexed under its
 * parent; then each root is read back with its descendants, in file order. Memory holds that index
 * (two numbers per line, one key per parent), never the objects: a file of any size is read in
 * bounded memory. A line naming a parent that is not in the file fails the read.
 */
export async function* readBulkObjects(
  url: string | null,
  options: { fetchFile?: (url: string) => Promise<Response>; tempDir?: string } = {},
): AsyncGenerator<BulkObject> {
  if (!url) return; // Shopify gives no URL when there were no objects
  const fetchFile = options.fetchFile ?? ((u: string) => fetch(u));
  const spoolDir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'switchyard-bulk-'));
  try {
    const path = join(spoolDir, 'result.jsonl');
    const { roots, childrenOf } = await spoolAndIndex(url, path, fetchFile);
    const file = await open(path, 'r');
    try {
      for (let i = 0; i < roots.length; i += 2) {
        const [root] = await readLines(file, [roots[i]!, roots[i + 1]!]);
        const children = new Map<string, BulkRecord[]>();
        const parents = [String(root!['id'])];
        while (parents.length > 0) {
          const parent = parents.pop()!;
          const places = childrenOf.get(parent);
          if (!places) continue;
          childrenOf.delete(parent);
          for (const child of await readLines(file, places)) {
            const type = /^gid:\/\/shopify\/([A-Za-z]+)\//.exec(String(child['id']))?.[1] ?? 'unknown';
            children.set(type, [...(children.get(type) ?? []), child]);
            if (typeof child['id'] === 'string') parents.push(child['id']);
          }
        }
        yield { root: root!, children };
      }
      // Whatever is left in the index names a parent no line of the file has.
      const orphaned = childrenOf.entries().next().value;
      if (orphaned) {
        const [parent, places] = orphaned;
        const [child] = await readLines(file, places.slice(0, 2));
        throw new AppError(
          'shopify.bulk_orphan',
          'unavailable',
          `Bulk line for ${String(child!['id'])} names parent ${parent}, which is not in the result.`,
        );
      }
    } finally {
      await file.close();
    }
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}

/** Downloads the file to `path`, indexing every line: roots in order, children under their parent (flat [offset, length] pairs). */
async function spoolAndIndex(
  url: string,
  path: string,
  fetchFile: (url: string) => Promise<Response>,
): Promise<{ roots: number[]; childrenOf: Map<string, number[]> }> {
  const response = await fetchFile(url);
  if (!response.ok || !response.body)
    throw new AppError(
      'shopify.bulk_download_failed',
      'unavailable',
      `Downloading the bulk result failed: HTTP ${response.status}.`,
    );
  const roots: number[] = [];
  const childrenOf = new Map<string, number[]>();
  let lineNumber = 0;
  const index = (line: Buffer, offset: number) => {
    lineNumber += 1;
    const text = line.toString('utf8');
    if (text.trim() === '') return;
    let record: BulkRecord;
    try {
      record = JSON.parse(text) as BulkRecord;
    } catch {
      throw new AppError('shopify.bulk_bad_line', 'unavailable', `Line ${lineNumber} of the bulk result is not JSON.`);
    }
    if (record.__parentId === undefined) {
      roots.push(offset, line.length);
      return;
    }
    const places = childrenOf.get(record.__parentId);
    if (places) places.push(offset, line.length);
    else childrenOf.set(record.__parentId, [offset, line.length]);
  };
  const out = createWriteStream(path);
  try {
    let pending: Buffer[] = []; // the start of a line whose end has not arrived yet
    let lineStart = 0;
    let position = 0;
    for await (const chunk of Readable.fromWeb(response.body as never) as AsyncIterable<Buffer>) {
      if (!out.write(chunk)) await once(out, 'drain');
      let from = 0;
      for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, from)) {
        const end = chunk.subarray(from, newline);
        index(pending.length === 0 ? end : Buffer.concat([...pending, end]), lineStart);
        pending = [];
        lineStart = position + newline + 1;
        from = newline + 1;
      }
      if (from < chunk.length) pending.push(chunk.subarray(from));
      position += chunk.length;
    }
    if (pending.length > 0) index(Buffer.concat(pending), lineStart);
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { roots, childrenOf };
}

/** Reads and parses the lines at the given places (flat [offset, length] pairs); neighbours are read in one go. */
async function readLines(file: FileHandle, places: number[]): Promise<BulkRecord[]> {
  const records: BulkRecord[] = [];
  for (let i = 0; i < places.length;) {
    const start = places[i]!;
    let end = start + places[i + 1]!;
    i += 2;
    while (i < places.length && places[i] === end + 1) {
      end = places[i]! + places[i + 1]!;
      i += 2;
    }
    const buffer = Buffer.alloc(end - start);
    await file.read(buffer, 0, buffer.length, start);
    for (const line of buffer.toString('utf8').split('\n'))
      if (line.trim() !== '') records.push(JSON.parse(line) as BulkRecord);
  }
  return records;
}

export const StagedUploadsCreate = operation<
  {
    stagedUploadsCreate: {
      stagedTargets: Array<{
        url: string;
        resourceUrl: string | null;
        parameters: Array<{ name: string; value: string }>;
      }>;
      userErrors: UserErrorNode[];
    };
  },
  { filename: string }
>(
  'StagedUploadsCreate',
  10,
  `mutation StagedUploadsCreate($filename: String!) {
    stagedUploadsCreate(input: [{ resource: BULK_MUTATION_VARIABLES, filename: $filename, mimeType: "text/jsonl", httpMethod: POST }]) {
      stagedTargets { url resourceUrl parameters { name value } } userErrors { field message }
    }
  }`,
);

export const BulkRunMutation = operation<
  {
    bulkOperationRunMutation: {
      bulkOperation: { id: string; status: string } | null;
      userErrors: Array<UserErrorNode & { code: string | null }>;
    };
  },
  { mutation: string; path: string }
>(
  'BulkRunMutation',
  10,
  `mutation BulkRunMutation($mutation: String!, $path: String!) {
    bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path) { bulkOperation { id status } userErrors { code field message } }
  }`,
);

/**
 * Runs one mutation for many sets of variables as a bulk operation: the variables go to Shopify's
 * staged upload target as JSONL (form parameters first, the file last), the operation runs, and its
 * result comes back as one record per input line, keyed by `__lineNumber`.
 */
export async function runBulkMutation(
  client: ShopifyClient,
  mutation: string,
  variables: Array<Record<string, unknown>>,
  options: {
    signals?: BulkFinishSignals;
    pollMs?: number;
    timeoutMs?: number;
    signal?: AbortSignal;
    fetchFile?: (url: string, init?: RequestInit) => Promise<Response>;
  } = {},
): Promise<Map<number, BulkRecord>> {
  const fetchFile = options.fetchFile ?? ((url, init) => fetch(url, init));
  const staged = await client.request(StagedUploadsCreate, { filename: 'switchyard-bulk.jsonl' });
  const target = staged.stagedUploadsCreate.stagedTargets[0];
  if (!target)
    throw new AppError(
      'shopify.staged_upload_refused',
      'unavailable',
      `Shopify gave no upload target: ${staged.stagedUploadsCreate.userErrors.map((e) => e.message).join('; ')}`,
    );
  const form = new FormData();
  for (const { name, value } of target.parameters) form.append(name, value);
  form.append(
    'file',
    new Blob([variables.map((v) => JSON.stringify(v)).join('\n')], { type: 'text/jsonl' }),
    'switchyard-bulk.jsonl',
  );
  const upload = await fetchFile(target.url, { method: 'POST', body: form });
  if (!upload.ok)
    throw new AppError(
      'shopify.staged_upload_failed',
      'unavailable',
      `Uploading the bulk variables failed with HTTP ${upload.status}.`,
    );
  const path = target.parameters.find((p) => p.name === 'key')?.value;
  if (!path)
    throw new AppError('shopify.staged_upload_refused', 'unavailable', 'The upload target has no key parameter.');
  const started = await client.request(BulkRunMutation, { mutation, path });
  const { bulkOperation, userErrors } = started.bulkOperationRunMutation;
  if (!bulkOperation) {
    throw new AppError(
      'shopify.bulk_refused',
      'unavailable',
      `Shopify refused the bulk mutation: ${userErrors.map((e) => `${e.code ?? ''} ${e.message}`.trim()).join('; ')}`,
      {
        userErrors,
      },
    );
  }
  const finished = await waitForBulk(client, bulkOperation.id, options);
  const results = new Map<number, BulkRecord>();
  for await (const record of readBulkResult(finished.url)) results.set(Number(record['__lineNumber']), record);
  return results;
}

async function waitForBulk(
  client: ShopifyClient,
  id: string,
  options: { signals?: BulkFinishSignals; pollMs?: number; timeoutMs?: number; signal?: AbortSignal },
): Promise<BulkOperationNode> {
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  const pollMs = options.pollMs ?? 1_000;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    const { bulkOperation: op } = await client.request(BulkOperationStatus, { id });
    if (!op) throw new AppError('shopify.bulk_lost', 'unavailable', `Bulk operation ${id} disappeared.`);
    if (op.status === 'COMPLETED') return op;
    if (['FAILED', 'CANCELED', 'EXPIRED'].includes(op.status)) {
      throw new AppError(
        'shopify.bulk_failed',
        'unavailable',
        `Bulk operation ${op.id} ended ${op.status}${op.errorCode ? ` (${op.errorCode})` : ''}.`,
      );
    }
    if (Date.now() > deadline)
      throw new AppError('shopify.bulk_timeout', 'unavailable', `Bulk operation ${op.id} did not finish in time.`);
    if (options.signals) await options.signals.wait(op.id, pollMs);
    else await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
