import { Link, NavLink, Outlet, useNavigate } from "react-router-dom";
import { useAuth } from '../auth';
import { api } from '../lib/api';
import { useLiveUpdates } from '../lib/useLiveUpdates';

export function Layout() {
  const { user } = useAuth();
  const navigate = useNavigate();
  useLiveUpdates(user);

  async function logOut() {
    await api.logout();
    navigate('/login', { replace: true });
  }

  return (
    <div className="shell">
      <header className="topbar">
        <Link className="brand" to="/">
          Tally
        </Link>
        {user && (
          <nav aria-label="Main">
            <NavLink to="/" end>
              Accounts
            </NavLink>
            <NavLink to="/send">Send money</NavLink>
            <NavLink to="/holds">Holds</NavLink>
            {user.role === 'banker' && <NavLink to="/banker">Banker</NavLink>}
          </nav>
        )}
        {user && (
          <div className="who">
            <span className="username" title={user.email}>
              {user.full_name}
            </span>
            <button type="button" className="secondary" onClick={logOut}>
              Log out
            </button>
          </div>
        )}
      </header>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}
