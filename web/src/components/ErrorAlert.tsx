import { describeError } from '../lib/errors';

/** An error for a person, announced by screen readers (role="alert"). Renders nothing without one. */
export function ErrorAlert({ error, text }: { error?: unknown; text?: string | null }) {
  const message = text ?? (error ? describeError(error) : null);
  if (!message) return null;
  return (
    <p className="alert" role="alert">
      {message}
    </p>
  );
}

/** A success notice (role="status": announced politely). */
export function Notice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p className="notice" role="status">
      {text}
    </p>
  );
}
