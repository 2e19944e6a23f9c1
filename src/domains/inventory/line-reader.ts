// Lines of a count file, read from a stream of bytes with bounded memory. `readline` gathers a whole
// line before it yields it, so one 200 MB line takes gigabytes; this reader keeps at most
// `maxLineBytes` of a line, and past that only counts the bytes up to the next newline.

/** A line's text (without its `\n` or `\r\n`), or why it could not be read. */
export type FileLine = { line: number; text: string } | { line: number; problem: string; fatal?: true };

const NEWLINE = 0x0a;
const CR = 0x0d;
const count = (n: number) => n.toLocaleString('en-US');

export async function* readLines(chunks: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<FileLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Buffer[] = [];
  let size = 0;
  /** Bytes of the current line so far, when it is past the limit (its bytes are not kept). */
  let overflow = 0;
  let line = 0;
  let first = true;

  const finish = (): FileLine => {
    line++;
    if (overflow > 0) {
      const problem = `line is ${count(overflow)} bytes long, more than the ${count(maxLineBytes)} allowed: not read`;
      overflow = 0;
      return { line, problem };
    }
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    try {
      return { line, text: decoder.decode(bytes) };
    } catch {
      return { line, problem: 'line is not valid UTF-8 text (save the file as UTF-8)' };
    }
  };

  for await (const chunk of chunks) {
    if (first && chunk.length > 0) {
      first = false;
      // A UTF-16 file (Excel's "Unicode text") is not lines of UTF-8: say so once, not on every line.
      if ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff)) {
        yield { line: 1, problem: 'the file is UTF-16 text: save it as UTF-8', fatal: true };
        return;
      }
    }
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      const length = end - start;
      if (overflow > 0) overflow += length;
      else if (size + length > maxLineBytes) {
        // Past the limit: drop what was kept and only count from here on.
        overflow = size + length;
        parts = [];
        size = 0;
      } else if (length > 0) {
        parts.push(chunk.subarray(start, end));
        size += length;
      }
      if (newline === -1) break;
      yield finish();
      start = newline + 1;
    }
  }
  // The last line may lack its newline.
  if (size > 0 || overflow > 0) yield finish();
}
