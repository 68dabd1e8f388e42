/**
 * The wgts version, read from package.json so the release number is written in one place (the
 * bundler inlines it into dist/; `wgts --version` and `wgts-userspace --version` print it).
 */
import pkg from '../../package.json' with { type: 'json' };

export const WGTS_VERSION: string = pkg.version;
