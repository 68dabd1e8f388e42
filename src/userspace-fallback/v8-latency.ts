/**
 * V8 settings for the process that serves packets (the daemon's runForeground, foreground or
 * daemonized alike; flags are per process, so the I/O workers' isolates get them too).
 *
 * --no-lazy-feedback-allocation: V8 normally gives a function its feedback vector (the inline
 * caches that later tiers compile from) only after it has run about eight times its bytecode size;
 * until then every property access and call takes the generic path, and Sparkplug does not compile
 * it. A lone packet runs each per-packet function once, so a fresh tunnel's pings ran the data path
 * that way for their first hundred-odd packets. Measured on the bench's pair (docs/benchmarks.md,
 * "Data plane: a lone packet"): main-thread CPU per ping 470 us against 580 us, idle RSS unchanged.
 * Set at run time rather than on node's command line so it holds however the daemon is started
 * (wg-quick's daemonized child, `wgts-userspace -f` under a supervisor); it applies to every
 * function first called after it, which is all of the data path.
 */
import { setFlagsFromString } from 'node:v8';

export function tuneV8ForLonePackets(): void {
  setFlagsFromString('--no-lazy-feedback-allocation');
}
