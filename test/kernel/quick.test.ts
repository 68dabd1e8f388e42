/**
 * The wgts quick differential corpus on the kernel backend (runs inside the VM, test/kernel/run-vm.sh):
 * real WireGuard module, `ip link add … type wireguard` succeeds for both tools, wgts configures the
 * device over generic netlink. Same assertions as the userspace run (test/integration/quick/), on a
 * subset of the corpus.
 * It lives in test/kernel/ because only this folder runs in the VM.
 */
import { defineDifferentialSuite } from '../integration/quick/differential-suite.js';
import { defineNoIpSuite } from '../integration/quick/no-ip-suite.js';
import { defineReloadSuite } from '../integration/quick/reload-suite.js';

// The whole corpus, as on the userspace backend; about 20 s a config
// under TCG emulation.
defineDifferentialSuite('kernel', () => true);

// wgts quick with every `ip` binary trapped, on the kernel backend (test/integration/quick/no-ip-suite.ts).
defineNoIpSuite('kernel');

// `wgts quick reload` with a ping stream through the tunnel (test/integration/quick/reload-suite.ts).
defineReloadSuite('kernel');
