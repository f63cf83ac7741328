import { Link } from 'react-router-dom';
import type { Account } from '../lib/types';
import { Money } from './Money';

/** The caller's accounts: a table on wide screens, stacked cards on a phone (CSS). */
export function AccountsTable({ accounts }: { accounts: Account[] }) {
  if (accounts.length === 0) {
    return <p className="empty">No accounts yet. Open one below to receive money.</p>;
  }
  return (
    <table className="accounts">
      <caption className="visually-hidden">Your accounts</caption>
      <thead>
        <tr>
          <th scope="col">Account</th>
          <th scope="col">Currency</th>
          <th scope="col" className="num">Balance</th>
          <th scope="col" className="num">Held</th>
          <th scope="col" className="num">Available</th>
          <th scope="col"><span className="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {accounts.map((account) => (
          <tr key={account.id} data-account-id={account.id}>
            <td data-label="Account">#{account.id}</td>
            <td data-label="Currency">{account.currency}</td>
            <td data-label="Balance" className="num"><Money minor={account.balance} currency={account.currency} /></td>
            <td data-label="Held" className="num"><Money minor={account.held} currency={account.currency} /></td>
            <td data-label="Available" className="num"><Money minor={account.available} currency={account.currency} /></td>
            <td className="actions">
              <Link to={`/statement/${account.id}`} className="button-link">
                Statement
              </Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
