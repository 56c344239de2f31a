/** Signal names as `kill -s` and `pod kill -s` take them (Podman's forms). */
import * as os from 'node:os';
import { CliError, EXIT_ENGINE } from './errors';

/**
 * A signal as runc takes it: `SIGHUP` for `hup`, `HUP`, `SIGHUP` or `1`.
 * @throws CliError (125) for an unknown signal.
 */
export function parseSignal(text: string): string {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= 64) return String(n);
  } else {
    const name = t.startsWith('SIG') ? t : `SIG${t}`;
    if (name in os.constants.signals || /^SIGRTM(IN|AX)([+-]\d+)?$/.test(name)) return name;
  }
  throw new CliError(`invalid signal: ${text}`, EXIT_ENGINE);
}
