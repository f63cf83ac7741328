import { describe, expect, it } from 'vitest';
import { canPay, canReceive, canSetOverdraft, entryRefundLeft, movementRefusal, statusActions, transferRefundLeft } from './rules';
import type { Account, Entry, Transfer } from './types';

const account = (fields: Partial<Account> = {}): Account => ({
  id: 42,
  owner: 'ada',
  balance: 0,
  held: 0,
  available: 0,
  overdraft: 0,
  currency: 'USD',
  created_at: '2026-12-01T00:00:00Z',
  status: 'active',
  ...fields,
});

const reserve = account({ id: 1, owner: null, balance: -5_000 });

const entry = (fields: Partial<Entry> = {}): Entry => ({
  id: 7,
  account_id: 42,
  transfer_id: 3,
  amount: 1_250,
  created_at: '2026-12-01T00:00:00Z',
  counterparty_account_id: 57,
  counterparty_kind: 'customer',
  reversed_amount: 0,
  ...fields,
});

const transfer = (fields: Partial<Transfer> = {}): Transfer => ({
  id: 3,
  from_account_id: 57,
  to_account_id: 42,
  amount: 1_250,
  currency: 'USD',
  status: 'posted',
  created_at: '2026-12-01T00:00:00Z',
  posted_at: '2026-12-01T00:00:00Z',
  expires_at: null,
  reversed_amount: 0,
  ...fields,
});

describe("a banker's status actions", () => {
  it('offers freeze on an active account, unfreeze on a frozen one, close only when empty', () => {
    expect(statusActions(account({ balance: 100, available: 100 }))).toEqual(['freeze']);
    expect(statusActions(account())).toEqual(['freeze', 'close']);
    expect(statusActions(account({ status: 'frozen', balance: 100 }))).toEqual(['unfreeze']);
    expect(statusActions(account({ status: 'frozen' }))).toEqual(['unfreeze', 'close']);
    expect(statusActions(account({ held: 10, balance: 10 }))).toEqual(['freeze']);
  });

  it('offers nothing on a reserve (404) or a closed account (never reopened)', () => {
    expect(statusActions(reserve)).toEqual([]);
    expect(statusActions(account({ owner: undefined }))).toEqual([]);
    expect(statusActions(account({ status: 'closed' }))).toEqual([]);
  });
});

describe("the payee's refund on a statement entry", () => {
  const payee = account({ balance: 2_000, available: 2_000 });

  it('is what is left of a credit from a customer', () => {
    expect(entryRefundLeft(entry(), payee)).toBe(1_250);
    expect(entryRefundLeft(entry({ reversed_amount: 250 }), payee)).toBe(1_000);
    expect(entryRefundLeft(entry(), account({ available: 1_250 }))).toBe(1_250);
  });

  it('is not offered when the payee cannot pay all that is left (422)', () => {
    expect(entryRefundLeft(entry(), account({ balance: 1_249, available: 1_249 }))).toBe(0);
    expect(entryRefundLeft(entry(), account({ balance: 1_250, held: 1, available: 1_249 }))).toBe(0);
  });

  it('is not offered on a deposit, a debit, a fully refunded entry, or from an account that cannot pay', () => {
    expect(entryRefundLeft(entry({ counterparty_kind: 'reserve' }), payee)).toBe(0);
    expect(entryRefundLeft(entry({ counterparty_kind: undefined }), payee)).toBe(0);
    expect(entryRefundLeft(entry({ amount: -1_250 }), payee)).toBe(0);
    expect(entryRefundLeft(entry({ reversed_amount: 1_250 }), payee)).toBe(0);
    expect(entryRefundLeft(entry(), { ...payee, status: 'frozen' })).toBe(0);
    expect(entryRefundLeft(entry(), { ...payee, status: 'closed' })).toBe(0);
  });
});

describe("a banker's refund of a transfer", () => {
  const payer = account({ id: 57, owner: 'bob' });
  const payee = account({ balance: 2_000, available: 2_000 });

  it('is what is left of a posted transfer between customers', () => {
    expect(transferRefundLeft(transfer(), payer, payee)).toBe(1_250);
    expect(transferRefundLeft(transfer({ reversed_amount: 1_000 }), payer, payee)).toBe(250);
    // A frozen payer still receives.
    expect(transferRefundLeft(transfer(), account({ id: 57, status: 'frozen' }), payee)).toBe(1_250);
    // No more than the payee has available (an overdraft counts).
    expect(transferRefundLeft(transfer(), payer, account({ balance: 300, available: 300 }))).toBe(300);
    expect(transferRefundLeft(transfer(), payer, account({ balance: -100, overdraft: 500, available: 400 }))).toBe(400);
  });

  it('is not offered on a hold, a refunded transfer, a deposit or withdrawal, or between accounts that cannot move it', () => {
    for (const status of ['pending', 'voided', 'expired'] as const) {
      expect(transferRefundLeft(transfer({ status }), payer, payee)).toBe(0);
    }
    expect(transferRefundLeft(transfer({ reversed_amount: 1_250 }), payer, payee)).toBe(0);
    expect(transferRefundLeft(transfer({ from_account_id: 1 }), reserve, payee)).toBe(0);
    expect(transferRefundLeft(transfer({ to_account_id: 1 }), payer, reserve)).toBe(0);
    expect(transferRefundLeft(transfer(), payer, account({ status: 'frozen', balance: 2_000, available: 2_000 }))).toBe(0);
    expect(transferRefundLeft(transfer(), payer, account({ balance: -100, available: -100 }))).toBe(0);
    expect(transferRefundLeft(transfer(), account({ id: 57, status: 'closed' }), payee)).toBe(0);
    expect(transferRefundLeft(transfer(), undefined, payee)).toBe(0);
  });
});

describe("a banker's deposit or withdrawal", () => {
  const funded = account({ balance: 1_000, available: 800, held: 200 });

  it('goes ahead on a customer account that may take it', () => {
    expect(movementRefusal('deposit', funded, 5_000)).toBeNull();
    expect(movementRefusal('deposit', account({ status: 'frozen' }), 5_000)).toBeNull();
    expect(movementRefusal('withdraw', funded, 800)).toBeNull();
  });

  it('is refused, in words, on a reserve, a closed account, out of a frozen one, or beyond what is available', () => {
    expect(movementRefusal('deposit', reserve, 1)).toContain('reserve');
    expect(movementRefusal('withdraw', reserve, 1)).toContain('reserve');
    expect(movementRefusal('deposit', account({ status: 'closed' }), 1)).toContain('closed');
    expect(movementRefusal('withdraw', account({ status: 'frozen', balance: 10, available: 10 }), 1)).toContain('frozen');
    expect(movementRefusal('withdraw', funded, 801)).toBe('Amount: more than the USD 8.00 available in account #42.');
  });
});

describe('who may pay and be paid', () => {
  it('an active account pays and receives, a frozen one only receives, a closed one neither', () => {
    expect([canPay(account()), canReceive(account())]).toEqual([true, true]);
    expect([canPay(account({ status: 'frozen' })), canReceive(account({ status: 'frozen' }))]).toEqual([false, true]);
    expect([canPay(account({ status: 'closed' })), canReceive(account({ status: 'closed' }))]).toEqual([false, false]);
  });
});

describe("a banker's overdraft limit", () => {
  it('is set on customer accounts that are not closed', () => {
    expect(canSetOverdraft(account())).toBe(true);
    expect(canSetOverdraft(account({ status: 'frozen' }))).toBe(true);
    expect(canSetOverdraft(account({ status: 'closed' }))).toBe(false);
    expect(canSetOverdraft(reserve)).toBe(false);
  });
});
