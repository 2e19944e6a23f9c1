// ESLint rule `switchyard/rooms`: keeps data flowing one way between the rooms of src/ (see
// ARCHITECTURE.md). It resolves each relative import to its file and checks the two rooms.
import path from 'node:path';

const ROOMS = [
  'main',
  'harness',
  'platform',
  'shopify',
  'ingest',
  'domains',
  'flows',
  'outbound',
  'jobs',
  'http',
  'simulator',
];

/** Which rooms each room may import (besides itself). Domains are handled apart: see below. */
const ALLOWED = {
  main: ROOMS,
  // The demo and simulate-day drive a whole Switchyard (main's wiring) against the simulator.
  harness: ['main', 'platform', 'domains', 'simulator'],
  platform: [],
  shopify: ['platform', 'domains'],
  ingest: ['platform', 'domains', 'flows', 'shopify', 'outbound'],
  domains: ['platform', 'domains'],
  flows: ['platform', 'domains'],
  outbound: ['platform', 'domains', 'flows', 'shopify'],
  jobs: ['platform', 'domains', 'flows', 'shopify', 'outbound'],
  http: ['platform', 'domains', 'flows'],
  simulator: ['platform'],
};

/** Rooms that nothing but main/ imports (the harness drives the simulator too). */
const ENTRY_ONLY = new Set(['http', 'jobs', 'ingest', 'simulator', 'harness']);
/** Besides main/, who may import an entry-only room. */
const ENTRY_ALSO = { simulator: ['harness'] };

export function roomOf(file, srcDir) {
  const relative = path.relative(srcDir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return null;
  const [room, sub] = relative.split(path.sep);
  if (!ROOMS.includes(room)) return null;
  return room === 'domains' ? { room, domain: sub, relative } : { room, relative };
}

function isTestFile(file) {
  return /\.test\.[cm]?[jt]sx?$/.test(file);
}

export const roomsRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce the import direction between rooms of src/' },
    schema: [{ type: 'object', properties: { srcDir: { type: 'string' } }, additionalProperties: false }],
    messages: {
      forbidden: '{{from}}/ may not import {{to}}/ ({{why}}). See ARCHITECTURE.md, "Import rules".',
      domainIndex: 'Import another domain through its index.ts only: {{domain}}/index.js.',
      shopifyPackage: 'Only src/shopify/ talks to Shopify: import {{name}} there.',
    },
  },
  create(context) {
    const filename = context.filename;
    const srcDir = context.options[0]?.srcDir ?? path.join(context.cwd, 'src');
    const from = roomOf(filename, srcDir);
    if (!from || isTestFile(filename)) return {};

    function check(node, source) {
      if (typeof source !== 'string') return;
      if (source.startsWith('@shopify/')) {
        if (from.room !== 'shopify') context.report({ node, messageId: 'shopifyPackage', data: { name: source } });
        return;
      }
      if (!source.startsWith('.')) return;
      const target = roomOf(path.resolve(path.dirname(filename), source), srcDir);
      if (!target) return;
      if (target.room === from.room) {
        if (
          from.room === 'domains' &&
          target.domain !== from.domain &&
          !isDomainIndex(target) &&
          !isSchemaToSchema(from, target)
        ) {
          context.report({ node, messageId: 'domainIndex', data: { domain: target.domain } });
        }
        return;
      }
      if (ENTRY_ONLY.has(target.room) && from.room !== 'main' && !(ENTRY_ALSO[target.room] ?? []).includes(from.room)) {
        context.report({
          node,
          messageId: 'forbidden',
          data: { from: from.room, to: target.room, why: `only main/ imports ${target.room}/` },
        });
        return;
      }
      if (!ALLOWED[from.room].includes(target.room)) {
        context.report({
          node,
          messageId: 'forbidden',
          data: {
            from: from.room,
            to: target.room,
            why: `${from.room}/ imports only ${ALLOWED[from.room].map((r) => `${r}/`).join(', ') || 'itself'}`,
          },
        });
        return;
      }
      if (target.room === 'domains' && from.room !== 'main' && !isDomainIndex(target)) {
        context.report({ node, messageId: 'domainIndex', data: { domain: target.domain } });
      }
    }

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

/** A domain's tables may reference another domain's (foreign keys): its schema imports that schema file. */
function isSchemaToSchema(from, target) {
  return /\.schema\.ts$/.test(from.relative) && /\.schema\.[cm]?[jt]s$/.test(target.relative);
}

function isDomainIndex(target) {
  const parts = target.relative.split(path.sep);
  return parts.length === 3 && /^index\.[cm]?[jt]s$/.test(parts[2]);
}

export default { rules: { rooms: roomsRule } };
