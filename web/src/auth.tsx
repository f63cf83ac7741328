// The signed-in user, from the API client's session, for every component.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, type AuthState } from './lib/api';

interface AuthContextValue extends AuthState {
  /** False until a stored session has been tried after a reload. */
  ready: boolean;
}

const AuthContext = createContext<AuthContextValue>({ user: null, ended: null, ready: false });

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>(api.getState());
  const [ready, setReady] = useState(false);
  const queryClient = useQueryClient();

  useEffect(() => {
    const unsubscribe = api.subscribe((next) => {
      // One user's cached data must never show to the next: drop it when a session ends.
      if (!next.user) queryClient.clear();
      setState(next);
    });
    api
      .restore()
      .catch(() => null) // offline at reload: show the login screen
      .finally(() => {
        setState(api.getState());
        setReady(true);
      });
    return unsubscribe;
  }, [queryClient]);

  return <AuthContext.Provider value={{ ...state, ready }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  return useContext(AuthContext);
}
