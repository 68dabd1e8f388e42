/**
 * V8 settings for the process that serves packets (the daemon's runForeground, foreground or
 * daemonized alike; flags are per process, so the I/O workers' isolates get them too).
 *
 * --no-lazy-feedback-allocation: V8 normally gives a function its feedback vector (the inline
 * caches that later tiers compile from) only after it has executed about eight times its bytecode
 * size; until then its property accesses and calls take the generic paths, no tier compiles it, and
 * the tiers' own budgets have not started counting. A lone packet runs each per-packet function
 * once, so a fresh tunnel's first pings ran the data path that way. Measured on fresh pairs, 50 pings each, interleaved
 * with main (docs/benchmarks.md, the 2026-12-06 16:20 rows): main-thread CPU per ping 506 against
 * 538 us, median RTT 1.48 against 1.57 ms, idle RSS unchanged.
 * Set at run time rather than on node's command line so it holds however the daemon is started
 * (wg-quick's daemonized child, `wgts-userspace -f` under a supervisor); it applies to every
 * function first called after it, which is all of the data path.
 */
import { setFlagsFromString } from 'node:v8';

export function tuneV8ForLonePackets(): void {
  setFlagsFromString('--no-lazy-feedback-allocation');
}
