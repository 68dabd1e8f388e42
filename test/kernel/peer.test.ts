/**
 * `wgts peer` on the kernel backend, in the VM suite: the same scenario as the host run
 * (test/integration/peer/peer-suite.ts) with the server a kernel `wireguard` link, so the peer is
 * added and removed over generic netlink and the other peer's session is checked there.
 */
import { definePeerSuite } from '../integration/peer/peer-suite.js';
import { requireVm } from './helpers.js';

requireVm();
definePeerSuite('kernel');
