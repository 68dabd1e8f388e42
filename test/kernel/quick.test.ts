/**
 * The wgts quick differential corpus on the kernel backend (runs inside the VM, test/kernel/run-vm.sh):
 * real WireGuard module, `ip link add … type wireguard` succeeds for both tools, wgts configures the
 * device over generic netlink. Same assertions as the userspace run (test/integration/quick/), on a
 * subset of the corpus.
 * Owner: H6 (quick); placed here because only this folder runs in the VM.
 */
import { defineDifferentialSuite } from '../integration/quick/differential-suite.js';

// TCG emulation makes every node start take seconds: a representative subset (policy routing with
// nft and DNS; hooks, several peers and PostUp/PostDown iptables), not the whole corpus.
defineDifferentialSuite('kernel', (name) => name.startsWith('full tunnel') || name.startsWith('server with hooks'));
