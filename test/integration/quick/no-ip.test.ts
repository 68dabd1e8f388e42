/** `wgts quick` with every `ip` binary trapped, on the host (wgts-userspace); see no-ip-suite.ts. */
import { defineNoIpSuite } from './no-ip-suite.js';

defineNoIpSuite('userspace');
