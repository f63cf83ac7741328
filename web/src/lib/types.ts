// The JSON shapes of the HTTP contract (docs/api.md). Fields marked "(new)" there are optional
// here: the app works with a server that does not send them yet.
import type { Currency } from './money';

export type Role = 'depositor' | 'banker';

export interface User {
  username: string;
  full_name: string;
  email: string;
  role: Role;
  password_changed_at: string;
  created_at: string;
}

export interface LoginResponse {
  session_id: string;
  access_token: string;
  access_token_expires_at: string;
  refresh_token: string;
  refresh_token_expires_at: string;
  user: User;
}

export interface RenewResponse {
  access_token: string;
  access_token_expires_at: string;
}

export interface Account {
  id: number;
  owner: string | null;
  balance: number;
  /** Sum of pending outgoing transfers (new): absent means 0. */
  held?: number;
  /** balance − held (new): absent means the balance. */
  available?: number;
  currency: Currency;
  created_at: string;
}

export interface Entry {
  id: number;
  account_id: number;
  transfer_id: number;
  amount: number;
  /** The posted balance right after this entry (new); only on accounts the caller owns. */
  balance_after?: number;
  created_at: string;
}

export type TransferStatus = 'posted' | 'pending' | 'voided' | 'expired';

export interface Transfer {
  id: number;
  from_account_id: number;
  to_account_id: number;
  amount: number;
  currency: Currency;
  status?: TransferStatus;
  created_at: string;
  posted_at?: string | null;
  expires_at?: string | null;
}

export interface TransferResult {
  transfer: Transfer;
  from_account: Account;
  from_entry?: Entry;
  to_entry?: Entry;
  to_account?: Account;
}

export interface MovementResult {
  transfer: Transfer;
  account: Account;
}

export interface NewTransfer {
  from_account_id: number;
  to_account_id: number;
  amount: number;
  currency: Currency;
  pending?: boolean;
  timeout_seconds?: number;
}

export function heldOf(account: Account): number {
  return account.held ?? 0;
}

export function availableOf(account: Account): number {
  return account.available ?? account.balance - heldOf(account);
}
