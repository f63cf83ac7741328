// What the server would refuse for a reason the app already knows (docs/api.md), so the app never
// offers it: a button the bank answers with a 404 or a 409 for a visible reason is a defect.
import { formatMoney } from './money';
import type { Account, Entry, Transfer } from './types';

export type StatusAction = 'freeze' | 'unfreeze' | 'close';

/** A currency's reserve: owned by no user; never frozen, closed, paid from or refunded (404). */
export function isReserve(account: Pick<Account, 'owner'>): boolean {
  return account.owner == null;
}

/** An account with nothing in it: the only kind that closes (409 `account_not_empty`). */
export function isEmpty(account: Pick<Account, 'balance' | 'held'>): boolean {
  return account.balance === 0 && account.held === 0;
}

/**
 * A banker's status actions on an account: none on a reserve (404) or a closed account (never
 * reopened, 409 `account_closed`); freeze when active, unfreeze when frozen; close when empty.
 */
export function statusActions(account: Account): StatusAction[] {
  if (isReserve(account) || account.status === 'closed') return [];
  const actions: StatusAction[] = [account.status === 'frozen' ? 'unfreeze' : 'freeze'];
  if (isEmpty(account)) actions.push('close');
  return actions;
}

/** Whether a banker may set the account's overdraft: not on a reserve (404) or a closed account (409). */
export function canSetOverdraft(account: Account): boolean {
  return !isReserve(account) && account.status !== 'closed';
}

/** Whether an account may pay (debits: transfers out, withdrawals, refunds it makes). */
export function canPay(account: Pick<Account, 'status'>): boolean {
  return account.status === 'active';
}

/** Whether an account may be paid (credits): all but a closed one. */
export function canReceive(account: Pick<Account, 'status'>): boolean {
  return account.status !== 'closed';
}

/**
 * What the payee may still refund of a statement entry, in minor units (0: offer no refund): a
 * credit from a customer (not a deposit from the reserve), not refunded in full, into an account
 * that may pay all that is left of it (the refund is its debit: 409 when frozen or closed, 422
 * beyond its `available`).
 */
export function entryRefundLeft(entry: Entry, account: Pick<Account, 'status' | 'available'>): number {
  if (entry.amount <= 0 || entry.counterparty_kind !== 'customer' || !canPay(account)) return 0;
  const left = Math.max(entry.amount - (entry.reversed_amount ?? 0), 0);
  return left <= account.available ? left : 0;
}

/**
 * The most a banker may refund of a transfer now, in minor units (0: offer no refund): posted,
 * not refunded in full, between two customer accounts (deposits and withdrawals are not
 * refunded), the payee able to pay and the payer able to receive; at most what is left of it and
 * what the payee has available. `payer` and `payee` are the transfer's two accounts as last read;
 * unknown (not read yet) offers nothing.
 */
export function transferRefundLeft(transfer: Transfer, payer: Account | undefined, payee: Account | undefined): number {
  if (transfer.status !== 'posted' || !payer || !payee) return 0;
  if (isReserve(payer) || isReserve(payee) || !canPay(payee) || !canReceive(payer)) return 0;
  return Math.max(Math.min(transfer.amount - transfer.reversed_amount, payee.available), 0);
}

/**
 * Why a banker's deposit to (or withdrawal from) `account` of `minor` units would be refused, in
 * words; null when it would not be for a reason visible here. A reserve is never named (404),
 * a closed account takes nothing (409), a frozen one pays nothing out (409), and a withdrawal
 * takes at most what is available (422).
 */
export function movementRefusal(kind: 'deposit' | 'withdraw', account: Account, minor: number): string | null {
  if (isReserve(account)) return `Account #${account.id} is a currency's reserve: deposits and withdrawals go to customer accounts.`;
  if (account.status === 'closed') return `Account #${account.id} is closed: it takes no deposits or withdrawals.`;
  if (kind === 'deposit') return null;
  if (!canPay(account)) return `Account #${account.id} is frozen: nothing can be withdrawn from it.`;
  if (minor > account.available) return `Amount: more than the ${formatMoney(account.available, account.currency)} available in account #${account.id}.`;
  return null;
}
