import { Link } from "react-router";

// What an empty tracker says: the ways in, each runnable as shown (the origin is this
// server's own, so the commands work as pasted).
const curlExample = (origin: string) => `curl -X POST ${origin}/api/v1/runs \\
  -H "Authorization: Bearer $GAPWATCH_API_KEY" \\
  -H 'Content-Type: application/json' \\
  -d '{"benchmark": {"name": "split_digits"},
       "model": {"name": "mlp"},
       "strategy": {"name": "er"},
       "training": {"iterations_per_task": 300}}'`;

const cliExample = (origin: string) =>
  `gapwatch submit spec.json --url ${origin} --wait   # spec.json holds the same JSON`;

export function RunsEmpty() {
  return (
    <section className="runs-empty" data-testid="runs-empty">
      <h2>No runs yet</h2>
      <p>
        A run trains one continual-learning set-up and evaluates every task as it goes, so the
        stability gap at each task switch shows. Start with the{" "}
        <Link to="/runs/new">New-run form</Link>: its offline Split-Digits presets need no
        download and finish in seconds on a CPU.
      </p>
      <p>
        Or submit a spec over the REST API with an API key (create one under{" "}
        <Link to="/settings">Settings</Link>, and set <code>GAPWATCH_API_KEY</code> to it):
      </p>
      <pre className="code-block">
        <code>{curlExample(window.location.origin)}</code>
      </pre>
      <p>or with the command-line client:</p>
      <pre className="code-block">
        <code>{cliExample(window.location.origin)}</code>
      </pre>
    </section>
  );
}
