import { Link, useLocation } from "react-router";

export function NotFoundPage() {
  const { pathname } = useLocation();
  return (
    <section className="not-found" data-testid="not-found">
      <h1>Page not found</h1>
      <p className="muted">
        Nothing lives at <code>{pathname}</code>.
      </p>
      <p>
        <Link to="/runs">Back to the runs</Link>
      </p>
    </section>
  );
}
