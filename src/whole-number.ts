import { z } from 'zod';

/**
 * A whole number given as a number (JSON) or as text (a command-line option, a query string). Text that
 * is not one is refused with what was given (`expected a whole number, got "abc"`), where a plain coercion
 * would say "expected number, received NaN".
 */
export function wholeNumber(bounds: { min?: number; max?: number } = {}) {
  // Only a value of the wrong kind gets this message; bounds keep zod's own ("expected >=1").
  const notWhole = (issue: { code: string; input?: unknown }) =>
    issue.code === 'invalid_type' ? `expected a whole number, got ${JSON.stringify(issue.input)}` : undefined;
  let number = z.number({ error: notWhole }).int({ error: notWhole });
  if (bounds.min !== undefined) number = number.min(bounds.min);
  if (bounds.max !== undefined) number = number.max(bounds.max);
  return z.preprocess(
    (value) => (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value),
    number,
  );
}
