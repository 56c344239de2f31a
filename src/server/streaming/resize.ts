import type { Readable } from 'node:stream';
import type { TerminalSize } from './backend';

/**
 * Turns the bytes of a resize stream into terminal sizes. The client writes
 * one JSON object per size, `{"Width":80,"Height":24}` (Go's json.Encoder,
 * so newline-separated, but objects are found by their braces so any
 * whitespace works). Malformed objects are skipped.
 *
 * Iterating yields each size in order and ends when the stream ends.
 */
export function resizeEvents(source: Readable): AsyncIterable<TerminalSize> {
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<TerminalSize> {
      let text = '';
      for await (const chunk of source) {
        text += Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
        for (;;) {
          const start = text.indexOf('{');
          if (start < 0) {
            text = '';
            break;
          }
          const end = text.indexOf('}', start);
          if (end < 0) {
            text = text.slice(start);
            break;
          }
          const size = parseSize(text.slice(start, end + 1));
          text = text.slice(end + 1);
          if (size) yield size;
        }
      }
    },
  };
}

/** Parses one `{"Width":W,"Height":H}` object; undefined when it is not one. */
export function parseSize(json: string): TerminalSize | undefined {
  try {
    const v = JSON.parse(json) as { Width?: unknown; Height?: unknown };
    const width = Number(v.Width);
    const height = Number(v.Height);
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || width > 0xffff || height > 0xffff) return undefined;
    return { width, height };
  } catch {
    return undefined;
  }
}
