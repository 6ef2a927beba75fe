import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { htuMatches, normalizeHtu } from '../../src/tokens/index.js';

describe('normalizeHtu (RFC 9449 §4.3, RFC 3986 §6)', () => {
  it('lowercases scheme and host, drops default ports, query and fragment', () => {
    assert.equal(normalizeHtu('HTTPS://API.Example.COM:443/Orders?id=1#x'), 'https://api.example.com/Orders');
    assert.equal(normalizeHtu('http://example.com:80/a'), 'http://example.com/a');
    assert.equal(normalizeHtu('https://example.com:8443/a'), 'https://example.com:8443/a');
    assert.equal(normalizeHtu('https://example.com'), 'https://example.com/');
  });

  it('normalises percent-encoding and dot segments, drops userinfo', () => {
    assert.equal(normalizeHtu('https://example.com/a%7eb/%2f/%c3%a9'), 'https://example.com/a~b/%2F/%C3%A9');
    assert.equal(normalizeHtu('https://example.com/a/./b/../c'), 'https://example.com/a/c');
    assert.equal(normalizeHtu('https://user:pw@example.com/a'), 'https://example.com/a');
  });

  it('keeps path case and refuses non-http URIs', () => {
    assert.equal(htuMatches('https://example.com/A', 'https://example.com/a'), false);
    for (const bad of ['ftp://example.com/a', 'not a url', '', 'urn:x:y', 'javascript:alert(1)']) {
      assert.equal(normalizeHtu(bad), undefined, bad);
    }
    assert.equal(htuMatches('bad', 'bad'), false);
    assert.equal(htuMatches('https://EXAMPLE.com/x?q', 'https://example.com/x'), true);
  });
});

it('normalisation is remembered for repeated values only as what it was: valid, invalid, and past the memory bound', () => {
  for (let round = 0; round < 2; round++) {
    assert.equal(normalizeHtu('HTTPS://Broker.Example:443/oauth/%7etoken?x=1'), 'https://broker.example/oauth/~token');
    assert.equal(normalizeHtu('ftp://broker.example/oauth/token'), undefined);
    assert.equal(normalizeHtu('not a uri'), undefined);
  }
  // Many distinct values (more than are remembered) still normalise correctly, first and again.
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 600; i++) assert.equal(normalizeHtu(`https://h${i}.example/p%2f${i}`), `https://h${i}.example/p%2F${i}`);
  }
});
