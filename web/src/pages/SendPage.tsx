import { Link } from 'react-router-dom';
import { useAccounts } from '../lib/queries';
import { SendMoneyForm } from '../components/SendMoneyForm';
import { ErrorAlert } from '../components/ErrorAlert';

export function SendPage() {
  const accounts = useAccounts();
  return (
    <>
      <h1>Send money</h1>
      <section className="card narrow-card">
        {accounts.isPending && <p role="status">Loading accounts…</p>}
        <ErrorAlert error={accounts.error} />
        {accounts.data && accounts.data.length === 0 && (
          <p className="empty">
            You need an account to send from. <Link to="/">Open one</Link>.
          </p>
        )}
        {accounts.data && accounts.data.length > 0 && <SendMoneyForm accounts={accounts.data} />}
      </section>
    </>
  );
}
