// Shopify's search syntax, as used by the `query` argument of connections:
//   sku:ABC-1  status:open  created_at:>'2026-11-01T00:00:00Z'  tag:express
//   a AND b, a OR b, NOT a, -a, (a OR b) c   (juxtaposition means AND), field:prefix*
// A term without a field matches the resource's default text fields.

export type Comparator = ':' | '>' | '>=' | '<' | '<=';
export type SearchNode =
  | { kind: 'and' | 'or'; left: SearchNode; right: SearchNode }
  | { kind: 'not'; operand: SearchNode }
  | { kind: 'term'; field: string | null; comparator: Comparator; value: string };

export class SearchSyntaxError extends Error {}

type Token = { type: 'lparen' | 'rparen' | 'and' | 'or' | 'not' | 'term'; text: string; negated?: boolean };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '(' || ch === ')') {
      tokens.push({ type: ch === '(' ? 'lparen' : 'rparen', text: ch });
      i++;
      continue;
    }
    // A term runs to the next unquoted space or parenthesis; quotes may hold spaces.
    let text = '';
    let quote: string | null = null;
    while (i < input.length) {
      const c = input[i]!;
      if (quote) {
        if (c === '\\' && i + 1 < input.length) {
          text += input[i + 1];
          i += 2;
          continue;
        }
        if (c === quote) quote = null;
        else text += c;
        i++;
        continue;
      }
      if (c === '"' || c === "'") {
        quote = c;
        i++;
        continue;
      }
      if (/\s/.test(c) || c === '(' || c === ')') break;
      text += c;
      i++;
    }
    if (quote) throw new SearchSyntaxError(`Unterminated quote in search query: ${input}`);
    if (text === 'AND') tokens.push({ type: 'and', text });
    else if (text === 'OR') tokens.push({ type: 'or', text });
    else if (text === 'NOT') tokens.push({ type: 'not', text });
    else if (text.startsWith('-') && text.length > 1) tokens.push({ type: 'term', text: text.slice(1), negated: true });
    else tokens.push({ type: 'term', text });
  }
  return tokens;
}

function parseTerm(text: string): SearchNode {
  const match = /^([a-z_][a-z0-9_.]*):(>=|<=|>|<)?(.*)$/i.exec(text);
  if (!match) return { kind: 'term', field: null, comparator: ':', value: text };
  return {
    kind: 'term',
    field: match[1]!.toLowerCase(),
    comparator: (match[2] as Comparator | undefined) ?? ':',
    value: match[3]!,
  };
}

export function parseSearch(input: string): SearchNode | null {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = () => tokens[pos];

  function parseOr(): SearchNode {
    let left = parseAnd();
    while (peek()?.type === 'or') {
      pos++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  }
  function parseAnd(): SearchNode {
    let left = parseUnary();
    for (;;) {
      const next = peek();
      if (!next || next.type === 'or' || next.type === 'rparen') return left;
      if (next.type === 'and') pos++;
      left = { kind: 'and', left, right: parseUnary() };
    }
  }
  function parseUnary(): SearchNode {
    const token = tokens[pos++];
    if (!token) throw new SearchSyntaxError(`Unexpected end of search query: ${input}`);
    if (token.type === 'not') return { kind: 'not', operand: parseUnary() };
    if (token.type === 'lparen') {
      const inner = parseOr();
      if (tokens[pos++]?.type !== 'rparen') throw new SearchSyntaxError(`Missing ) in search query: ${input}`);
      return inner;
    }
    if (token.type === 'term') {
      const term = parseTerm(token.text);
      return token.negated ? { kind: 'not', operand: term } : term;
    }
    throw new SearchSyntaxError(`Unexpected "${token.text}" in search query: ${input}`);
  }

  if (tokens.length === 0) return null;
  const tree = parseOr();
  if (pos < tokens.length) throw new SearchSyntaxError(`Unexpected "${tokens[pos]!.text}" in search query: ${input}`);
  return tree;
}

/** How to read a searchable field of a resource: a value, or several (any may match). */
export type FieldReader<T> = (item: T) => string | number | boolean | Date | null | undefined | Array<string | number>;

export interface SearchFields<T> {
  fields: Record<string, FieldReader<T>>;
  /** Fields a bare word searches. */
  defaultFields: string[];
}

function compare(actual: string | number | boolean | Date, comparator: Comparator, raw: string): boolean {
  if (actual instanceof Date) {
    const wanted = Date.parse(raw);
    if (Number.isNaN(wanted)) return false;
    const a = actual.getTime();
    switch (comparator) {
      case '>':
        return a > wanted;
      case '>=':
        return a >= wanted;
      case '<':
        return a < wanted;
      case '<=':
        return a <= wanted;
      default:
        return a === wanted;
    }
  }
  if (typeof actual === 'number') {
    const wanted = Number(raw);
    switch (comparator) {
      case '>':
        return actual > wanted;
      case '>=':
        return actual >= wanted;
      case '<':
        return actual < wanted;
      case '<=':
        return actual <= wanted;
      default:
        return actual === wanted;
    }
  }
  const a = String(actual).toLowerCase();
  const w = raw.toLowerCase();
  if (comparator !== ':')
    return comparator.startsWith('>')
      ? a > w || (comparator === '>=' && a === w)
      : a < w || (comparator === '<=' && a === w);
  return w.endsWith('*') ? a.startsWith(w.slice(0, -1)) : a === w;
}

export function matches<T>(node: SearchNode | null, item: T, spec: SearchFields<T>): boolean {
  if (!node) return true;
  switch (node.kind) {
    case 'and':
      return matches(node.left, item, spec) && matches(node.right, item, spec);
    case 'or':
      return matches(node.left, item, spec) || matches(node.right, item, spec);
    case 'not':
      return !matches(node.operand, item, spec);
    case 'term': {
      const fields = node.field === null ? spec.defaultFields : [node.field];
      return fields.some((name) => {
        const reader = spec.fields[name];
        // Shopify ignores unknown fields in a search; so do we (the term matches nothing).
        if (!reader) return false;
        const value = reader(item);
        if (value === null || value === undefined) return false;
        const values = Array.isArray(value) ? value : [value];
        if (node.field === null) {
          const needle = node.value.toLowerCase().replace(/\*$/, '');
          return values.some((v) => String(v).toLowerCase().includes(needle));
        }
        return values.some((v) => compare(v, node.comparator, node.value));
      });
    }
  }
}
