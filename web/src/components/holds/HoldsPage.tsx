import { useAccounts } from '../../lib/queries';
import { formatMoney } from '../../lib/money';
import { formatDateTime } from '../../lib/dates';
import { useState } from 'react';
import { ErrorAlert, Notice } from '../ErrorAlert';
import { HoldRow } from './HoldRow';
import { useHolds } from './useHolds';

/** Holds (pending transfers): those waiting for me to confirm or release, and mine on others. */
export function HoldsPage() {
  const accounts = useAccounts();
  const holds = useHolds(accounts.data);
  const [done, setDone] = useState<string | null>(null);
  return (
    <>
      <h1>Holds</h1>
      <p className="lede">
        A hold keeps money in the payer's account, unspendable, until the payee confirms it (all or part) or releases
        it, or it expires. Send one from <em>Send money</em>.
      </p>
      <ErrorAlert error={accounts.error ?? holds.error} />
      <Notice text={done} />
      {(accounts.isPending || holds.isPending) && <p role="status">Loading holds…</p>}
      {holds.data && !holds.data.supported && (
        <p className="notice" role="status">This bank does not offer holds yet.</p>
      )}
      {holds.data?.supported && (
        <>
          <section className="card" aria-labelledby="incoming-heading">
            <h2 id="incoming-heading">Waiting for you</h2>
            {holds.data.incoming.length === 0 ? (
              <p className="empty">No holds waiting for you.</p>
            ) : (
              <ul className="holds">
                {holds.data.incoming.map((hold) => (
                  <HoldRow key={hold.id} hold={hold} onDone={setDone}
                    payee={accounts.data?.find((account) => account.id === hold.to_account_id)} />
                ))}
              </ul>
            )}
          </section>
          <section className="card" aria-labelledby="outgoing-heading">
            <h2 id="outgoing-heading">Your money on hold</h2>
            {holds.data.outgoing.length === 0 ? (
              <p className="empty">None of your money is on hold.</p>
            ) : (
              <ul className="holds">
                {holds.data.outgoing.map((hold) => (
                  <li key={hold.id} className="hold" data-hold-id={hold.id}>
                    <strong>{formatMoney(hold.amount, hold.currency)}</strong> from your account #{hold.from_account_id} to
                    account #{hold.to_account_id}
                    {hold.expires_at && <span className="hint"> · expires {formatDateTime(hold.expires_at)}</span>}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </>
  );
}
