import { describe, expect, it } from 'vitest';
import { isPostgresUrl, redactUrl } from '../../src/store/postgres/postgres-url.js';

describe('redactUrl', () => {
  it('hides the password of a TCP URL and keeps the rest', () => {
    expect(redactUrl('postgres://me:s3cret@db.lan:5433/photos')).toBe('postgres://me:***@db.lan:5433/photos');
  });

  it('hides a password given as a param', () => {
    const shown = redactUrl('postgres://me@db.lan/photos?password=s3cret&sslmode=require');
    expect(shown).not.toContain('s3cret');
    expect(shown).toContain('sslmode=require');
  });

  it('shows a Unix-socket URL (user, no host), which WHATWG URL refuses, with its password hidden', () => {
    const url = 'postgres://me:s3cret@/photos?host=/run/postgresql&port=5432';
    expect(() => new URL(url)).toThrow();
    expect(redactUrl(url)).toBe('postgres://me:***@/photos?host=/run/postgresql&port=5432');
    expect(redactUrl('postgresql://me@/photos?host=/tmp/sock&password=x1')).toBe(
      'postgresql://me@/photos?host=/tmp/sock&password=***',
    );
  });

  it('says so for what is not a PostgreSQL URL at all', () => {
    expect(redactUrl('not a url')).toBe('postgres://(unparsable URL)');
    expect(isPostgresUrl('sqlite:///x')).toBe(false);
  });
});
