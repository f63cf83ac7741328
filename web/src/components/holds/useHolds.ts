import { useQuery } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { ApiError } from '../../lib/errors';
import { keys } from '../../lib/queries';
import type { Account, Transfer } from '../../lib/types';

export interface Holds {
  /** Pending transfers to my accounts: mine to confirm or release. */
  incoming: Transfer[];
  /** Pending transfers from my accounts: money of mine on hold. */
  outgoing: Transfer[];
  /** False when this server does not offer holds yet. */
  supported: boolean;
}

/** The pending transfers touching any of my accounts (GET /accounts/{id}/transfers?status=pending). */
export function useHolds(accounts: Account[] | undefined) {
  return useQuery({
    queryKey: [...keys.holds, accounts?.map((a) => a.id).join(',')],
    enabled: accounts !== undefined,
    queryFn: async (): Promise<Holds> => {
      const mine = new Set((accounts ?? []).map((a) => a.id));
      const seen = new Map<number, Transfer>();
      try {
        for (const account of accounts ?? []) {
          for (const transfer of await api.accountTransfers(account.id, 'pending')) seen.set(transfer.id, transfer);
        }
      } catch (error) {
        // My own account's transfers "not found", or an unknown route: the server has no holds yet.
        if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
          return { incoming: [], outgoing: [], supported: false };
        }
        throw error;
      }
      const all = [...seen.values()].sort((a, b) => b.id - a.id);
      return {
        incoming: all.filter((t) => mine.has(t.to_account_id)),
        outgoing: all.filter((t) => mine.has(t.from_account_id) && !mine.has(t.to_account_id)),
        supported: true,
      };
    },
  });
}
