// The relay (bounce server) acceptance (relay-suite.ts) on each implementation chosen by WGR_IMPLS
// (wireguard-go and wgts-userspace by default). The kernel run is test/kernel/registry.test.ts.
import { implsUnderTest } from './lab.js';
import { defineRelaySuite } from './relay-suite.js';

for (const impl of implsUnderTest()) defineRelaySuite(impl);
