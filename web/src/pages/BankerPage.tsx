import { useAuth } from '../auth';
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
      <section className="card narrow-card">
        <BankerForm />
      </section>
    </>
  );
}
