/** did-you-mean (conf/did-you-mean.ts): typos find their word, other words find nothing. */
import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance } from '../../src/conf/did-you-mean.js';

const KEYS = ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive'];

describe('didYouMean', () => {
  it.each([
    ['Endpont', 'Endpoint'],
    ['allowedip', 'AllowedIPs'],
    ['Allowed IPs', 'AllowedIPs'],
    ['PublicKye', 'PublicKey'],
    ['persistent_keepalive', 'PersistentKeepalive'],
    ['PresharedKeys', 'PresharedKey'],
  ])('%s -> %s', (typo, want) => expect(didYouMean(typo, KEYS)).toBe(want));

  it.each(['Address', 'Foo', 'Key', ''])('%s -> nothing', (word) => expect(didYouMean(word, KEYS)).toBeUndefined());

  it('counts an adjacent transposition as one edit', () => {
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
