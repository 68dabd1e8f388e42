/**
 * The daemon's logger, with wireguard-go's LOG_LEVEL values: `verbose`/`debug` → both sinks,
 * `error` → errors only, `silent` → nothing; unset → errors (wireguard-go's main.go). Lines look like
 * wireguard-go's: `DEBUG: (wg0) 2026/11/22 03:04:05 message`. Callers never pass key material.
 */
import type { Logger } from './device.js';

export type LogLevel = 'verbose' | 'error' | 'silent';

export function logLevelFromEnv(value: string | undefined): LogLevel {
  switch (value) {
    case 'verbose':
    case 'debug':
      return 'verbose';
    case 'silent':
      return 'silent';
    default:
      return 'error';
  }
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

let stderrGone = false;

/**
 * Lets the daemon outlive the reader of its output (`wgts-userspace -f wg0 2>&1 | head`, a log
 * collector restarted): a write to the closed pipe fails with EPIPE, and the stream's error would
 * otherwise be an uncaught exception, whose report goes to the same stream, and so on: the daemon
 * stopped serving and spun instead of exiting. Writes to stdout fail quietly; the log stops writing.
 */
export function outliveClosedOutput(): void {
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => {
    stderrGone = true;
  });
}

function toStderr(line: string): void {
  if (!stderrGone) process.stderr.write(line);
}

/** A Logger writing to `out` (stderr by default) at `level`, prefixed with the interface name. */
export function makeLogger(level: LogLevel, ifname: string, out: (line: string) => void = toStderr): Logger {
  const line = (tag: string, msg: string): void => out(`${tag}: (${ifname}) ${stamp(new Date())} ${msg}\n`);
  return {
    verbose: level === 'verbose' ? (msg) => line('DEBUG', msg) : () => undefined,
    error: level === 'silent' ? () => undefined : (msg) => line('ERROR', msg),
  };
}
