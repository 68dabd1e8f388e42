// NAT-to-NAT through a registry peer (nat-suite.ts) on each implementation chosen by WGR_IMPLS
// (wireguard-go and wgts-userspace by default). The kernel run is test/kernel/registry.test.ts.
import { implsUnderTest } from './lab.js';
import { defineNatSuite } from './nat-suite.js';

for (const impl of implsUnderTest()) defineNatSuite(impl);
