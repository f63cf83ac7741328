import { Link } from 'react-router-dom';
import { useAccounts } from '../lib/queries';
import { SendMoneyForm } from '../components/SendMoneyForm';
import { ErrorAlert } from '../components/ErrorAlert';
import { canPay } from '../lib/rules';

export function SendPage() {
  const accounts = useAccounts();
  // A frozen or closed account cannot pay (409): it is not offered as the payer.
  const payers = accounts.data?.filter(canPay);
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
        {accounts.data && accounts.data.length > 0 && payers?.length === 0 && (
          <p className="empty">None of your accounts can pay: they are frozen or closed. Contact the bank.</p>
        )}
        {payers && payers.length > 0 && <SendMoneyForm accounts={payers} />}
      </section>
    </>
  );
}
