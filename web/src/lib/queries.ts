// The query keys and shared queries of the app (TanStack Query).
import { useQuery } from '@tanstack/react-query';
import { api } from './api';

export const keys = {
  accounts: ['accounts'] as const,
  account: (id: number) => ['account', id] as const,
  statement: (id: number, since?: string, until?: string) => ['statement', id, since ?? '', until ?? ''] as const,
  holds: ['holds'] as const,
  /** A banker's pages of an account's transfers (GET /transfers?account_id=). */
  transfersOf: (id: number) => ['transfers', id] as const,
};

export function useAccounts() {
  return useQuery({ queryKey: keys.accounts, queryFn: () => api.listAccounts() });
}
