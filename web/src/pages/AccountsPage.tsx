import { useAccounts } from '../lib/queries';
import { AccountsTable } from '../components/AccountsTable';
import { OpenAccountForm } from '../components/OpenAccountForm';
import { ErrorAlert } from '../components/ErrorAlert';
import { useAuth } from '../auth';

export function AccountsPage() {
  const { user } = useAuth();
  const accounts = useAccounts();
  return (
    <>
      <h1>Accounts</h1>
      {user && <p className="lede">Hello, {user.full_name}. Amounts are shown in each account's currency.</p>}
      <section className="card" aria-labelledby="accounts-heading">
        <h2 id="accounts-heading" className="visually-hidden">Your accounts</h2>
        {accounts.isPending && <p role="status">Loading accounts…</p>}
        <ErrorAlert error={accounts.error} />
        {accounts.data && <AccountsTable accounts={accounts.data} />}
      </section>
      {accounts.data && (
        <section className="card" aria-labelledby="open-heading">
          <h2 id="open-heading">Open an account</h2>
          <OpenAccountForm accounts={accounts.data} />
        </section>
      )}
    </>
  );
}
