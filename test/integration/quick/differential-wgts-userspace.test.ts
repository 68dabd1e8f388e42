/**
 * The differential corpus with wgts' own data plane: wgts quick with its default implementation
 * (wgts-userspace) against wg-quick with wireguard-go. Same state after up and down, same hooks and
 * narration (normalize.ts maps the implementation's name and drops wireguard-go's banner).
 */
import { defineDifferentialSuite } from './differential-suite.js';

defineDifferentialSuite('wgts-userspace');
