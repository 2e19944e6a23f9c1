// ESLint rule `switchyard/table-owners`: every table has one owning room, the room whose
// `*.schema.ts` declares it, and only that room writes it. Any other room calls a function of the
// owner. Reads across rooms are fine. The map of owners is read from the schema files themselves and
// published as docs/TABLES.md (`npm run tables`).
import fs from 'node:fs';
import path from 'node:path';
import { roomOf } from './rooms.js';

/** `export const orderLines = pgTable('order_lines', ...)`, the name possibly on the next line. */
const TABLE_DECLARATION = /export\s+const\s+([A-Za-z_$][\w$]*)\s*=\s*pgTable\(\s*['"]([^'"]+)['"]/g;

/** The room a file of src/ belongs to: a top-level folder, or `domains/<x>`. */
export function roomName(file, srcDir) {
  const room = roomOf(file, srcDir);
  if (room) return room.domain ? `${room.room}/${room.domain}` : room.room;
  const relative = path.relative(srcDir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return null;
  const parts = relative.split(path.sep);
  return parts.length > 1 ? parts[0] : null;
}

function schemaFiles(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...schemaFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.schema.ts')) found.push(full);
  }
  return found;
}

/**
 * Every table declared in a `*.schema.ts` file under srcDir: its name, its drizzle identifier, the
 * room that owns it and its schema file (relative to srcDir's parent, with `/`), sorted by table.
 */
export function tableOwners(srcDir) {
  const root = path.dirname(srcDir);
  const owners = [];
  for (const file of schemaFiles(srcDir).sort()) {
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(TABLE_DECLARATION)) {
      owners.push({
        table: match[2],
        identifier: match[1],
        room: roomName(file, srcDir),
        file: path.relative(root, file).split(path.sep).join('/'),
      });
    }
  }
  return owners.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

const cache = new Map();

/** The owners of srcDir's tables, by table name and by drizzle identifier; read once per srcDir. */
function ownersOf(srcDir) {
  let entry = cache.get(srcDir);
  if (!entry) {
    const owners = tableOwners(srcDir);
    entry = {
      byTable: new Map(owners.map((o) => [o.table.toLowerCase(), o])),
      byIdentifier: new Map(owners.map((o) => [o.identifier, o])),
    };
    cache.set(srcDir, entry);
  }
  return entry;
}

// Writes in raw SQL. A table name may be quoted and schema-qualified (`"public"."order_lines"`).
const NAME = String.raw`(?:"?public"?\s*\.\s*)?"?([A-Za-z_][A-Za-z0-9_]*)"?`;
const RAW_WRITES = [
  new RegExp(String.raw`\binsert\s+into\s+${NAME}`, 'gi'),
  new RegExp(String.raw`\bupdate\s+(?:only\s+)?${NAME}`, 'gi'),
  new RegExp(String.raw`\bdelete\s+from\s+(?:only\s+)?${NAME}`, 'gi'),
];
// `truncate [table] [only] a, b, c`: every table of the list is written.
const TRUNCATE = new RegExp(String.raw`\btruncate\s+(?:table\s+)?(?:only\s+)?(${NAME}(?:\s*,\s*${NAME})*)`, 'gi');
const TRUNCATE_ITEM = new RegExp(NAME, 'gi');
// A write whose table is interpolated: sql`update ${orderLines} set ...`.
const WRITE_BEFORE_HOLE =
  /\b(?:insert\s+into|update(?:\s+only)?|delete\s+from(?:\s+only)?|truncate(?:\s+table)?(?:\s+only)?)\s+$/i;

/** Each table written by the SQL text, with the offset of its name in text. */
function rawWrites(text) {
  const writes = [];
  for (const pattern of RAW_WRITES) {
    for (const match of text.matchAll(pattern)) {
      writes.push({
        name: match[1],
        index: match.index + match[0].length - match[1].length - (match[0].endsWith('"') ? 1 : 0),
      });
    }
  }
  for (const match of text.matchAll(TRUNCATE)) {
    const start = match.index + match[0].length - match[1].length;
    for (const item of match[1].matchAll(TRUNCATE_ITEM)) {
      writes.push({
        name: item[1],
        index: start + item.index + item[0].indexOf(item[1], item[0].lastIndexOf('.') + 1),
      });
    }
  }
  return writes;
}

function isTestFile(file) {
  return /\.test\.[cm]?[jt]sx?$/.test(file);
}

/** The name a table expression ends in: `orderLines`, `schema.orderLines`. */
function trailingName(node) {
  if (!node) return null;
  if (node.type === 'Identifier') return node.name;
  if (node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier')
    return node.property.name;
  return null;
}

export const tableOwnersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Only the room that declares a table writes it' },
    schema: [{ type: 'object', properties: { srcDir: { type: 'string' } }, additionalProperties: false }],
    messages: {
      foreignWrite:
        '{{room}}/ may not write {{table}} (owned by {{owner}}/): call a function of {{owner}}/. See docs/TABLES.md.',
    },
  },
  create(context) {
    const filename = context.filename;
    const srcDir = context.options[0]?.srcDir ?? path.join(context.cwd, 'src');
    if (isTestFile(filename)) return {};
    const room = roomName(filename, srcDir);
    if (!room) return {};
    const { byTable, byIdentifier } = ownersOf(srcDir);
    const sourceCode = context.sourceCode;

    function report(node, loc, owner) {
      if (owner.room === room) return;
      context.report({ node, loc, messageId: 'foreignWrite', data: { room, table: owner.table, owner: owner.room } });
    }

    /** A table identifier, unless it names a local variable or parameter of this file. */
    function tableOfIdentifier(node) {
      const name = trailingName(node);
      const owner = name ? byIdentifier.get(name) : undefined;
      if (!owner) return undefined;
      if (node.type === 'Identifier') {
        let scope = sourceCode.getScope(node);
        while (scope) {
          const variable = scope.set.get(name);
          if (variable) {
            if (variable.defs.some((def) => def.type !== 'ImportBinding')) return undefined;
            break;
          }
          scope = scope.upper;
        }
      }
      return owner;
    }

    /** Reports the raw writes in text, which starts at source offset `start`. */
    function scan(node, text, start) {
      for (const write of rawWrites(text)) {
        const owner = byTable.get(write.name.toLowerCase());
        if (!owner) continue;
        const from = start + write.index;
        report(
          node,
          { start: sourceCode.getLocFromIndex(from), end: sourceCode.getLocFromIndex(from + write.name.length) },
          owner,
        );
      }
    }

    return {
      CallExpression(node) {
        const callee = node.callee;
        if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return;
        if (!['insert', 'update', 'delete'].includes(callee.property.name)) return;
        const owner = tableOfIdentifier(node.arguments[0]);
        if (owner) report(node.arguments[0], undefined, owner);
      },
      TemplateLiteral(node) {
        node.quasis.forEach((quasi, i) => {
          // The static text starts after the opening backtick or the closing brace of `${...}`.
          scan(quasi, quasi.value.raw, quasi.range[0] + 1);
          const hole = node.expressions[i];
          if (hole && WRITE_BEFORE_HOLE.test(quasi.value.raw)) {
            const owner = tableOfIdentifier(hole);
            if (owner) report(hole, undefined, owner);
          }
        });
      },
      Literal(node) {
        if (typeof node.value === 'string') scan(node, node.raw, node.range[0]);
      },
    };
  },
};

/** docs/TABLES.md, generated from the schema files of srcDir. */
export function renderTablesDoc(srcDir) {
  const owners = tableOwners(srcDir);
  const lines = [
    '# Tables and their owners',
    '',
    '<!-- Generated by `npm run tables` (eslint-rules/tables-doc.js) from the *.schema.ts files. Do not edit. -->',
    '',
    'Every table has one owner: the room whose `*.schema.ts` declares it. Only the owner writes the table',
    '(insert, update, delete, truncate; by drizzle or raw SQL); any other room calls a function of the owner.',
    'Reads across rooms are fine. Who writes `order_lines`? The room named here, through its functions.',
    'The lint rule `switchyard/table-owners` (eslint-rules/tables.js) enforces it; test files are exempt.',
    '',
    '| table | owner | drizzle name | schema file |',
    '|---|---|---|---|',
    ...owners.map((o) => `| \`${o.table}\` | \`${o.room}/\` | \`${o.identifier}\` | \`${o.file}\` |`),
    '',
    '## By room',
    '',
  ];
  const rooms = [...new Set(owners.map((o) => o.room))].sort();
  for (const room of rooms) {
    const tables = owners.filter((o) => o.room === room).map((o) => `\`${o.table}\``);
    lines.push(`- \`${room}/\`: ${tables.join(', ')}`);
  }
  lines.push('');
  return lines.join('\n');
}

export default { rules: { 'table-owners': tableOwnersRule } };
