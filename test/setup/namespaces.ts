// Network namespaces of the integration tests (test/integration/helpers/netns.ts labNetnsName): this
// run's pid goes to its workers, so each namespace names the run that made it. At the start, those of
// runs that died (an interrupted run, a killed machine) are removed; at the end, this run's own,
// which a worker killed on a timeout could not remove itself.
import { LAB_RUN_ENV, sweepLabNamespaces } from '../integration/helpers/netns.js';

function report(what: string, names: string[]): void {
  if (names.length > 0) console.warn(`removed ${names.length} ${what} test namespace(s): ${names.join(' ')}`);
}

export default async function setup(): Promise<(() => Promise<void>) | void> {
  if (process.getuid?.() !== 0) return; // without root no test makes a namespace
  process.env[LAB_RUN_ENV] = String(process.pid);
  report('stale', await sweepLabNamespaces());
  return async () => report('leftover', await sweepLabNamespaces(String(process.pid)));
}
