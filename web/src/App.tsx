import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import type { ReactNode } from 'react';
import { useAuth } from './auth';
import { Layout } from './components/Layout';
import { LoginPage } from './pages/LoginPage';
import { SignupPage } from './pages/SignupPage';
import { AccountsPage } from './pages/AccountsPage';
import { SendPage } from './pages/SendPage';
import { StatementPage } from './pages/StatementPage';
import { BankerPage } from './pages/BankerPage';
import { HoldsPage } from './components/holds/HoldsPage';

// Routes never share a path with the API's own (which lives under /api/ anyway).
export function App() {
  const { ready } = useAuth();
  if (!ready) {
    return (
      <p className="loading" role="status">
        Loading…
      </p>
    );
  }
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/signup" element={<SignupPage />} />
      <Route element={<Layout />}>
        <Route path="/" element={<Private><AccountsPage /></Private>} />
        <Route path="/send" element={<Private><SendPage /></Private>} />
        <Route path="/statement/:accountId" element={<Private><StatementPage /></Private>} />
        <Route path="/holds" element={<Private><HoldsPage /></Private>} />
        <Route path="/banker" element={<Private><BankerPage /></Private>} />
      </Route>
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}

function Private({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}
