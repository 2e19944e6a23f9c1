import { describe, expect, test } from 'vitest';
import { readLines, type FileLine } from './line-reader.js';

/** The bytes cut into chunks of `size`, as a file stream would deliver them. */
async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function lines(text: string | Buffer, max: number, chunk = 7): Promise<FileLine[]> {
  const out: FileLine[] = [];
  for await (const line of readLines(chunked(Buffer.isBuffer(text) ? text : Buffer.from(text), chunk), max))
    out.push(line);
  return out;
}

describe('line reader', () => {
  test('splits on \\n and \\r\\n across chunk boundaries, keeps empty lines, reads a last line without newline', async () => {
    for (const chunk of [1, 2, 3, 7, 64]) {
      expect(await lines('ab,c\r\n\nxyz\nlast', 16, chunk)).toEqual([
        { line: 1, text: 'ab,c' },
        { line: 2, text: '' },
        { line: 3, text: 'xyz' },
        { line: 4, text: 'last' },
      ]);
    }
  });

  test('a line past the limit is reported with its length and skipped; the next line is read', async () => {
    const long = 'x'.repeat(1000);
    for (const chunk of [1, 5, 16, 4096]) {
      expect(await lines(`head\n${long}\nafter\n0123456789\n01234567890\n${long}`, 10, chunk)).toEqual([
        { line: 1, text: 'head' },
        { line: 2, problem: 'line is 1,000 bytes long, more than the 10 allowed: not read' },
        { line: 3, text: 'after' },
        { line: 4, text: '0123456789' },
        { line: 5, problem: 'line is 11 bytes long, more than the 10 allowed: not read' },
        { line: 6, problem: 'line is 1,000 bytes long, more than the 10 allowed: not read' },
      ]);
    }
  });

  test('a multi-byte character split between chunks is decoded whole; bytes that are not UTF-8 are a line problem', async () => {
    expect(await lines('é€😀\nok\n', 32, 1)).toEqual([
      { line: 1, text: 'é€😀' },
      { line: 2, text: 'ok' },
    ]);
    const latin1 = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('\nok\n')]);
    expect(await lines(latin1, 32)).toEqual([
      { line: 1, problem: 'line is not valid UTF-8 text (save the file as UTF-8)' },
      { line: 2, text: 'ok' },
    ]);
  });

  test('NUL and other control bytes are read as text (the caller judges the values)', async () => {
    expect(await lines('a\u0000b\u0007\n', 32)).toEqual([{ line: 1, text: 'a\u0000b\u0007' }]);
  });

  test('a UTF-16 file is said to be one, once, and not read', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('facility,sku\nWH1,A\n', 'utf16le')]);
    expect(await lines(utf16, 1000)).toEqual([
      { line: 1, problem: 'the file is UTF-16 text: save it as UTF-8', fatal: true },
    ]);
  });
});
