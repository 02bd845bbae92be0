import "uplot/dist/uPlot.min.css";
import "./app/theme.css";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";

import { ApiError } from "./api/client";
import { App } from "./app/App";
import { installSession } from "./auth/session";

// A refusal (signed out, a missing role) stays a refusal: retry only what may pass next time.
const retry = (failures: number, error: unknown) =>
  !(error instanceof ApiError && (error.status === 401 || error.status === 403)) && failures < 1;

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 2_000, retry, refetchOnWindowFocus: false } },
});
installSession(queryClient);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
