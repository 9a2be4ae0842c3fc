import { StatusContext, useStatusPoll } from './hooks.js';
import { AssetPage } from './pages/asset-page.js';
import { BrowsePage } from './pages/browse-page.js';
import { ComparePage } from './pages/compare-page.js';
import { RunPage } from './pages/run-page.js';
import { RunsPage } from './pages/runs-page.js';
import { Link, match, useLocation } from './router.js';

function Page({ path }: { path: string }) {
  if (path === '/') return <BrowsePage />;
  if (path === '/runs') return <RunsPage />;
  if (path === '/compare') return <ComparePage />;
  const run = match('/runs/:id', path);
  if (run) return <RunPage id={run.id!} />;
  const asset = match('/assets/:id', path);
  if (asset) return <AssetPage id={asset.id!} />;
  return (
    <p className="empty">
      Nothing here. <Link href="/">Browse the archive</Link>
    </p>
  );
}

export function App() {
  const { path } = useLocation();
  const status = useStatusPoll();
  const section = path.startsWith('/runs') || path === '/compare' ? 'runs' : 'browse';
  return (
    <StatusContext.Provider value={status}>
      <header className="top">
        <Link href="/" className="brand">
          Archivist
        </Link>
        <nav>
          <Link href="/" className={section === 'browse' ? 'active' : undefined}>
            Browse
          </Link>
          <Link href="/runs" className={section === 'runs' && path !== '/compare' ? 'active' : undefined}>
            Runs
          </Link>
          <Link href="/compare" className={path === '/compare' ? 'active' : undefined}>
            Compare
          </Link>
        </nav>
        <span className="status" data-testid="status-line">
          {status
            ? `${status.assets.toLocaleString('en')} assets · ${status.artifacts.toLocaleString('en')} artifacts${
                status.activeRuns.length
                  ? ` · ${status.activeRuns.length} active run${status.activeRuns.length > 1 ? 's' : ''}`
                  : ''
              }`
            : ''}
        </span>
      </header>
      <main className={path === '/' ? 'main main-browse' : 'main'}>
        <Page path={path} />
      </main>
    </StatusContext.Provider>
  );
}
