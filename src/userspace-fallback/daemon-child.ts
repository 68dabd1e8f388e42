/**
 * Entry of the daemonized child (daemon.ts re-runs itself detached): the same main() as
 * bin/wgts-userspace, built by scripts/build.mjs as one CommonJS file, dist/daemon/wgts-userspace.
 * Node starts a CommonJS program without its ES module loader, which costs a process that stays up
 * for days about 1.4 MiB of RSS (measured: 0.9 MiB heap, 0.5 MiB of node's code pages).
 * As in the bin, SIGINT/SIGTERM that arrive while the bundle loads are remembered, and the daemon
 * replays them once its own handlers are installed.
 */
const pending: string[] = ((globalThis as { __wgtsPendingSignals?: string[] }).__wgtsPendingSignals = []);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => pending.push(sig));
void import('./daemon.js').then(async ({ main }) => {
  process.exitCode = await main(process.argv.slice(1));
});
