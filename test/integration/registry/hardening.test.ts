// The registry under attack (hardening-suite.ts) on each implementation chosen by WGR_IMPLS
// (wireguard-go and wgts-userspace by default).
import { implsUnderTest } from './lab.js';
import { defineHardeningSuite } from './hardening-suite.js';

for (const impl of implsUnderTest()) defineHardeningSuite(impl);
