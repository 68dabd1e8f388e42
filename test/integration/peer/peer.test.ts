/** `wgts peer` on a wgts-userspace server (test/integration/peer/peer-suite.ts). */
import { definePeerSuite } from './peer-suite.js';

definePeerSuite('userspace');
