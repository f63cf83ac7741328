import { useAuth } from '../auth';
import { AccountAdmin } from '../components/AccountAdmin';
import { BankerForm } from '../components/BankerForm';

export function BankerPage() {
  const { user } = useAuth();
  if (user?.role !== 'banker') {
    return (
      <>
        <h1>Banker</h1>
        <p className="alert" role="alert">
          Only bankers can deposit to or withdraw from other people's accounts.
        </p>
      </>
    );
  }
  return (
    <>
      <h1>Banker</h1>
      <p className="lede">Deposit to or withdraw from any customer account. The money comes from, or goes back to, the currency's reserve.</p>
      <section className="card narrow-card" aria-labelledby="banker-move">
        <h2 id="banker-move">Deposit or withdraw</h2>
        <BankerForm />
      </section>
      <section className="card narrow-card" aria-labelledby="banker-status">
        <h2 id="banker-status">Account status</h2>
        <p className="hint">Freeze a compromised account (it can still receive money), unfreeze it, or close an empty one for good.</p>
        <AccountAdmin />
      </section>
    </>
  );
}
