import { ApiError } from '../api.js';

/** An error as a person reads it: the message, the hint, and which field it is about. */
export function Problem({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const body = error instanceof ApiError ? error.body : undefined;
  return (
    <div className="problem" role="alert" data-testid="problem">
      <b>{body?.field ? `${body.param ?? body.field}: ` : ''}</b>
      {error.message}
      {body?.hint && <div className="hint">{body.hint}</div>}
    </div>
  );
}
