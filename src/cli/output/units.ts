/**
 * Human-readable sizes, durations and times as Podman prints them (the Go
 * module docker/go-units and Go's time formatting).
 */

const SIZE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/**
 * A byte count in decimal units with 3 significant digits, as go-units'
 * HumanSizeWithPrecision(size, 3): 2129049 → "2.13 MB", 999 → "999 B".
 */
export function humanSize(bytes: number): string {
  let size = Math.max(0, bytes);
  let i = 0;
  while (size >= 1000 && i < SIZE_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  // Rounding to 3 digits may reach 1000 (999.7 kB): show it in the next unit.
  if (Number(size.toPrecision(3)) >= 1000 && i < SIZE_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))} ${SIZE_UNITS[i]}`;
}

/**
 * A byte count as go-units' HumanSize (4 significant digits, no space),
 * what `podman system df` prints: 2700485 → "2.7MB", 48 → "48B", 0 → "0B".
 */
export function humanSizeCompact(bytes: number): string {
  let size = Math.max(0, bytes);
  let i = 0;
  while (size >= 1000 && i < SIZE_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(4))}${SIZE_UNITS[i]}`;
}

/** Binary-unit size for progress bars: 1536 → "1.5 KiB", one decimal above KiB. */
export function binarySize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = Math.max(0, bytes);
  let i = 0;
  while (size >= 1024 && i < units.length - 1) {
    size /= 1024;
    i++;
  }
  return i === 0 ? `${size} B` : `${size.toFixed(1)} ${units[i]}`;
}

/**
 * The time between then and now in words, as go-units' HumanDuration
 * ("Less than a second", "About a minute", "3 hours", "2 years").
 * @param ms milliseconds elapsed.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(Math.floor(ms / 3_600_000) / 24 / 365)} years`;
}

/** "2 years ago", as Podman's CREATED column. */
export function timeAgo(thenMs: number, nowMs: number = Date.now()): string {
  return `${humanDuration(nowMs - thenMs)} ago`;
}

/** A time as Go's `time.Time.String()` in UTC: "2024-01-01 00:00:00 +0000 UTC" (fraction only when non-zero). */
export function goTimeString(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2024-01-01T00:00:00.000Z
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}
