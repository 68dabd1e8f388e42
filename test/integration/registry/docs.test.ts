// docs/nat.md's walkthrough and relay, run as printed (docs-suite.ts). The docs are about
// configuration, not the data plane: the first implementation chosen by WGR_IMPLS is enough.
// The kernel run is test/kernel/registry-docs.test.ts.
import { implsUnderTest } from './lab.js';
import { defineDocsSuite } from './docs-suite.js';

for (const impl of implsUnderTest().slice(0, 1)) defineDocsSuite(impl);
