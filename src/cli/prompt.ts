/** Line prompts on a terminal (login's user name and password), the password not echoed. */
import * as readline from 'node:readline';
import type { CliStreams } from './context';

/**
 * Asks `question` on stderr and reads one line from stdin.
 * @param hidden do not echo what is typed (passwords).
 */
export function promptLine(io: CliStreams, question: string, hidden = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const out = io.stderr;
    let muted = false;
    const rl = readline.createInterface({
      input: io.stdin,
      output: {
        write: (s: string) => (muted ? true : out.write(s)),
        on: () => undefined,
        isTTY: true,
      } as unknown as NodeJS.WritableStream,
      terminal: Boolean(io.stdin.isTTY),
    });
    rl.question(question, (answer) => {
      // Resolved before close: closing emits 'close', whose handler would resolve with '' first.
      resolve(answer);
      rl.close();
      if (hidden) out.write('\n');
    });
    muted = hidden;
    rl.on('close', () => resolve(''));
    rl.on('error', reject);
  });
}

/** Reads all of stdin (bounded at `max` bytes) as text, one trailing newline dropped. */
export async function readStdin(io: CliStreams, max = 64 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of io.stdin) {
    text += chunk.toString();
    if (text.length > max) throw new Error(`stdin: more than ${max} bytes`);
  }
  return text.replace(/\r?\n$/, '');
}
