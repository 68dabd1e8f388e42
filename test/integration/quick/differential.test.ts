/**
 * Differential acceptance of `wgts quick` against the real wg-quick (Debian 1.0.20210914), both with
 * wireguard-go as the userspace implementation: for every config of the corpus, each tool runs in a
 * fresh network namespace (and private mount namespace) and must leave the same state after up
 * (addresses, MTU, routes of every table, rules, nft ruleset/iptables, sysctls), the same device
 * configuration, hooks in the same order with the same output, the same narration modulo the listed
 * Debian-vs-upstream deltas (normalize.ts), and a namespace after down equal to the one before.
 * `strip` and `save` print the same.
 */
import { defineDifferentialSuite } from './differential-suite.js';

defineDifferentialSuite('userspace');
