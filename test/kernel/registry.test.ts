/**
 * The registry's acceptance scenarios on the kernel backend, in the VM suite: the NAT-to-NAT scenario through a
 * registry peer and the relay (bounce server), the same code as the userspace runs
 * (test/integration/registry/nat-suite.ts and relay-suite.ts) with every WireGuard device a kernel
 * `wireguard` link. Lab.wgDevice checks each one: link kind `wireguard` and no UAPI socket, so the
 * registry's `wgts registry serve` (reading peers) and `wgts registry discover` (setting endpoints,
 * adding peers) go through wgts's generic-netlink backend, and `wg` through the kernel's.
 * Deadlines are stretched ×5 for TCG (lab.ts SLOWDOWN, from WGTS_IN_VM). The docs/nat.md
 * walkthrough on the kernel is registry-docs.test.ts. The registry under attack
 * (hardening-suite.ts) runs here too: its sockets bound to a kernel `wireguard` link (the TCP load runs,
 * which do not depend on the backend, only on the host).
 */
import { defineNatSuite } from '../integration/registry/nat-suite.js';
import { defineRelaySuite } from '../integration/registry/relay-suite.js';
import { defineHardeningSuite } from '../integration/registry/hardening-suite.js';
import { requireLab } from '../integration/registry/lab.js';
import { requireVm } from './helpers.js';

requireVm();
// The suites skip where the lab cannot run; here that would hide a broken VM, so fail instead.
requireLab('kernel');

defineNatSuite('kernel');
defineRelaySuite('kernel');
defineHardeningSuite('kernel', { transportLoad: false });
