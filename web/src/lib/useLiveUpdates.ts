// Keeps balances, statements and holds current: every event from the change stream marks the
// cached queries stale, so what is on screen refetches (Bob sees Alice's payment arrive).
import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { followEvents } from './events';
import type { User } from './types';

/** Query keys' first parts the events can change. */
const LIVE_KEYS = ['accounts', 'account', 'statement', 'holds'];

export function useLiveUpdates(user: User | null): void {
  const queryClient = useQueryClient();
  const username = user?.username ?? null;
  useEffect(() => {
    if (!username) return;
    const controller = new AbortController();
    const refresh = () => {
      for (const key of LIVE_KEYS) void queryClient.invalidateQueries({ queryKey: [key] });
    };
    void followEvents({ onEvent: refresh, onConnected: refresh, signal: controller.signal });
    return () => controller.abort();
  }, [username, queryClient]);
}
