import type { Account } from '../../lib/types';
import { Money } from '../Money';

/** What a banker sees of an account: owner, status, and its money. */
export function AccountFacts({ account }: { account: Account }) {
  return (
    <dl className="facts">
      <dt>Account</dt>
      <dd>#{account.id}</dd>
      <dt>Owner</dt>
      <dd>{account.owner ?? 'the reserve'}</dd>
      <dt>Status</dt>
      <dd data-testid="account-status">{account.status}</dd>
      <dt>Balance</dt>
      <dd data-testid="account-balance"><Money minor={account.balance} currency={account.currency} /></dd>
      <dt>Overdraft</dt>
      <dd data-testid="account-overdraft"><Money minor={account.overdraft} currency={account.currency} /></dd>
      <dt>Held</dt>
      <dd><Money minor={account.held} currency={account.currency} /></dd>
      <dt>Available</dt>
      <dd data-testid="account-available"><Money minor={account.available} currency={account.currency} /></dd>
    </dl>
  );
}
