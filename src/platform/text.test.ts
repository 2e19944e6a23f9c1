import { describe, expect, test } from 'vitest';
import { clip, echoed, hasUnsafeCharacters, quoted, storable } from './text.js';

describe('echoing outside values', () => {
  test('short values are shown whole; long ones are cut at 80 characters with their length', () => {
    expect(quoted('SKU-1')).toBe('"SKU-1"');
    expect(quoted('x'.repeat(80))).toBe(`"${'x'.repeat(80)}"`);
    expect(quoted('x'.repeat(70_000))).toBe(`"${'x'.repeat(80)}…" (70,000 characters)`);
    expect(echoed('9'.repeat(81))).toBe(`${'9'.repeat(80)}… (81 characters)`);
  });

  test('control characters and lone surrogates are made visible; a surrogate pair is kept or cut whole', () => {
    expect(quoted('a\u0000b\nc\u007f\u0085')).toBe('"a\\u0000b\\u000ac\\u007f\\u0085"');
    expect(quoted('\ud800x\udc00')).toBe('"\\ud800x\\udc00"');
    expect(clip('ab😀', 3)).toEqual({ shown: 'ab', cut: true });
    expect(clip('ab😀', 4)).toEqual({ shown: 'ab😀', cut: false });
    // An escape counts for its visible length: 80 NULs show 13 escapes (78 characters).
    expect(quoted('\u0000'.repeat(80))).toBe(`"${'\\u0000'.repeat(13)}…" (80 characters)`);
  });

  test('storable text fits its column: at most max characters, "…" when cut', () => {
    expect(storable('counts.csv', 255)).toBe('counts.csv');
    expect(storable('a'.repeat(300), 255)).toBe(`${'a'.repeat(254)}…`);
    expect(storable('a'.repeat(300), 255)).toHaveLength(255);
    expect(storable('x\u0000.csv', 255)).toBe('x\\u0000.csv');
  });

  test('unsafe characters are told apart from ordinary text', () => {
    expect(hasUnsafeCharacters('Entrepôt-1 😀')).toBe(false);
    expect(hasUnsafeCharacters('a\u0000')).toBe(true);
    expect(hasUnsafeCharacters('tab\there')).toBe(true);
    expect(hasUnsafeCharacters('\udc00')).toBe(true);
    expect(hasUnsafeCharacters('\ud83d')).toBe(true);
  });
});
