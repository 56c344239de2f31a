/**
 * A tiny terminal for tests: applies what a program wrote to a TTY (text,
 * CR, LF, and the CSI sequences a progress display uses: cursor up `ESC[nA`,
 * erase to end of screen `ESC[J`, erase line `ESC[K`/`ESC[2K`) and returns
 * the lines a person would see at the end.
 */
export function screenOf(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  const put = (ch: string): void => {
    const l = lines[row] ?? '';
    lines[row] = l.slice(0, col).padEnd(col) + ch + l.slice(col + 1);
    col++;
  };
  for (let i = 0; i < output.length; i++) {
    const c = output[i];
    if (c === '\x1b' && output[i + 1] === '[') {
      const m = /^\x1b\[(\d*)([A-Za-z])/.exec(output.slice(i));
      if (!m) continue;
      const n = m[1] === '' ? 1 : Number(m[1]);
      switch (m[2]) {
        case 'A':
          row = Math.max(0, row - n);
          break;
        case 'B':
          row += n;
          break;
        case 'J':
          lines[row] = (lines[row] ?? '').slice(0, col);
          lines.length = row + 1;
          break;
        case 'K':
          lines[row] = m[1] === '2' ? '' : (lines[row] ?? '').slice(0, col);
          break;
        default:
          break;
      }
      i += m[0].length - 1;
    } else if (c === '\r') col = 0;
    else if (c === '\n') {
      row++;
      col = 0;
      if (lines[row] === undefined) lines[row] = '';
    } else put(c);
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
