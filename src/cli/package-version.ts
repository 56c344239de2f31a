/** peapod's version (package.json `version`), read once. */
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** The version in package.json at the repository root (dist/src/cli/ is three levels below it). */
export function peapodVersion(): string {
  cached ??= (JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}
