// /sign-in — a name and password, or #token=<one-time link token> (what `gapwatch login-link`
// and the admins' Users section print), which is exchanged at once. The token is in the
// fragment, which the browser never sends to a server: it reaches no access log, and a link
// previewer that fetches the page without running it cannot spend it. Afterwards the user goes
// to ?next= (a path on this site only), with the sign-in URL replaced in the history so that a
// link's token neither stays in the address bar nor comes back with the Back button.
import "./sign-in.css";

import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { Navigate, useLocation, useNavigate, useSearchParams } from "react-router";

import { api, unwrap } from "../../api/client";
import { safeNext } from "../../auth/nextPath";
import { useMaybeMe, useSessionActions } from "../../auth/session";
import { linkToken } from "./linkToken";
import { signInErrorText } from "./signInErrors";

export function SignInPage() {
  const [params] = useSearchParams();
  const location = useLocation();
  const token = linkToken(location.hash);
  const next = safeNext(params.get("next"));
  const me = useMaybeMe();
  const navigate = useNavigate();
  const session = useSessionActions();

  const [name, setName] = useState("");
  const [password, setPassword] = useState("");

  const finish = async () => {
    await session.signedIn();
    navigate(next, { replace: true });
  };

  const withPassword = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/auth/sign-in", { body: { name, password } })),
    onSuccess: finish,
  });
  const withLink = useMutation({
    mutationFn: async (linkToken: string) =>
      unwrap(await api.POST("/api/v1/auth/link", { body: { token: linkToken } })),
    onSuccess: finish,
    // A spent token is no use in the address bar either.
    onError: () =>
      navigate({ pathname: location.pathname, search: location.search, hash: "" }, { replace: true }),
  });

  // Exchange a link's token once, even if the effect runs twice (React's StrictMode does).
  const exchanged = useRef<string | null>(null);
  const exchange = withLink.mutate;
  useEffect(() => {
    if (token && exchanged.current !== token) {
      exchanged.current = token;
      exchange(token);
    }
  }, [token, exchange]);

  const message = withPassword.error
    ? signInErrorText(withPassword.error, "password")
    : withLink.error
      ? signInErrorText(withLink.error, "link")
      : null;
  const busy =
    withPassword.isPending || withLink.isPending || withPassword.isSuccess || withLink.isSuccess;
  // Signed in already: on to `next`, unless a link just failed (say so first).
  if (me && !token && !busy && !message) return <Navigate to={next} replace />;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    withLink.reset();
    withPassword.mutate();
  };

  return (
    <section className="sign-in-page" data-testid="sign-in-page">
      <h1>Sign in to Gapwatch</h1>
      {token || withLink.isPending ? (
        <p className="muted" data-testid="sign-in-link-pending">
          Signing you in with the link…
        </p>
      ) : (
        <form className="sign-in-form" onSubmit={submit}>
          {message && (
            <p className="sign-in-error" data-testid="sign-in-error" role="alert">
              {message}
            </p>
          )}
          <label htmlFor="sign-in-name">Name</label>
          <input
            id="sign-in-name"
            data-testid="sign-in-name"
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <label htmlFor="sign-in-password">Password</label>
          <input
            id="sign-in-password"
            data-testid="sign-in-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <button
            type="submit"
            className="primary"
            data-testid="sign-in-submit"
            disabled={busy || !name || !password}
          >
            {withPassword.isPending ? "Signing in…" : "Sign in"}
          </button>
          <p className="muted small">
            No password yet? Ask an administrator for a one-time sign-in link, or run{" "}
            <code>gapwatch login-link &lt;your name&gt;</code> on the server.
          </p>
        </form>
      )}
    </section>
  );
}
