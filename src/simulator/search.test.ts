import { describe, expect, test } from 'vitest';
import { matches, parseSearch, type SearchFields } from './search.js';

interface Order {
  name: string;
  status: string;
  tags: string[];
  createdAt: Date;
  total: number;
}
const spec: SearchFields<Order> = {
  defaultFields: ['name'],
  fields: {
    name: (o) => o.name,
    status: (o) => o.status,
    tag: (o) => o.tags,
    created_at: (o) => o.createdAt,
    total: (o) => o.total,
  },
};
const order: Order = {
  name: '#1001',
  status: 'open',
  tags: ['express', 'vip'],
  createdAt: new Date('2026-11-20T10:00:00Z'),
  total: 120,
};
const match = (query: string) => matches(parseSearch(query), order, spec);

describe('Shopify search syntax', () => {
  test.each([
    ['status:open', true],
    ['status:closed', false],
    ['tag:vip', true],
    ['tag:VIP', true],
    ["created_at:>'2026-11-01T00:00:00Z'", true],
    ['created_at:<2026-11-01', false],
    ['created_at:>=2026-11-20T10:00:00Z', true],
    ['total:>100 AND total:<=120', true],
    ['status:open tag:express', true],
    ['status:closed OR tag:express', true],
    ['NOT tag:express', false],
    ['-tag:express', false],
    ['(status:closed OR tag:vip) AND total:>200', false],
    ['tag:exp*', true],
    ['#1001', true],
    ['unknown_field:x', false],
    ['status:"open"', true],
  ])('%s → %s', (query, expected) => {
    expect(match(query)).toBe(expected);
  });

  test('empty query matches everything; bad syntax is an error', () => {
    expect(parseSearch('  ')).toBeNull();
    expect(() => parseSearch('(status:open')).toThrow('Missing ) in search query');
    expect(() => parseSearch("name:'open")).toThrow('Unterminated quote');
  });
});
