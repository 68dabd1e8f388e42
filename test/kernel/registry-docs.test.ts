/**
 * docs/nat.md on the kernel backend, in the VM suite: the walkthrough's configs ("two laptops
 * behind NAT, one small VPS", and the relay) brought up with `wgts quick` and its registry commands
 * run as printed, the same code as the userspace run (test/integration/registry/docs-suite.ts).
 * `wgts quick` picks the kernel module itself; the suite checks every device it made is a kernel
 * `wireguard` link without a UAPI socket. Deadlines are stretched ×5 for TCG (lab.ts SLOWDOWN).
 * A file of its own (not in registry.test.ts) so each stays short and can be run alone.
 */
import { defineDocsSuite } from '../integration/registry/docs-suite.js';
import { requireLab } from '../integration/registry/lab.js';
import { requireVm } from './helpers.js';

requireVm();
// The suite skips where the lab cannot run; here that would hide a broken VM, so fail instead.
requireLab('kernel');

defineDocsSuite('kernel');
