import type { ReactNode } from 'react';

/** The centred card of the log-in and sign-up screens. */
export function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth">
      <div className="card auth-card">
        <p className="brand">Tally</p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
