import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { AppStatus } from "./bindings/AppStatus";
import type { Balances } from "./bindings/Balances";
import type { CommandError } from "./bindings/CommandError";
import type { LogLine } from "./bindings/LogLine";
import type { SwapDetail } from "./bindings/SwapDetail";
import { api, errorOf, subscribe } from "./api";
import { notifyError } from "./components/common";

/** Keeps the most recent version of each swap (events may overtake answers). */
function mergeSwap(list: SwapDetail[], swap: SwapDetail): SwapDetail[] {
  const i = list.findIndex((s) => s.swap_id === swap.swap_id);
  if (i === -1) return [swap, ...list].sort((a, b) => b.created_at - a.created_at);
  const old = list[i]!;
  if (old.updated_at > swap.updated_at) return list;
  const copy = list.slice();
  copy[i] = swap;
  return copy;
}

export interface AppData {
  status: AppStatus | null;
  statusError: CommandError | null;
  retryStatus: () => void;
  balances: Balances | null;
  setBalances: (b: Balances) => void;
  swaps: SwapDetail[];
  upsertSwap: (s: SwapDetail) => void;
  reloadSwaps: () => Promise<void>;
  logs: LogLine[];
  /** When each swap's deadline was last received (ms), for local countdowns. */
  swapSeenAt: Record<string, number>;
}

const Ctx = createContext<AppData | null>(null);

export function useAppData(): AppData {
  const v = useContext(Ctx);
  if (!v) throw new Error("useAppData outside AppDataProvider");
  return v;
}

const MAX_LOG_LINES = 5000;

export function AppDataProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [statusError, setStatusError] = useState<CommandError | null>(null);
  const [balances, setBalances] = useState<Balances | null>(null);
  const [swaps, setSwaps] = useState<SwapDetail[]>([]);
  const [swapSeenAt, setSwapSeenAt] = useState<Record<string, number>>({});
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [attempt, setAttempt] = useState(0);
  /** An `app-status` event is newer than any answer to `app_status` still under way. */
  const sawStatusEvent = useRef(false);

  const upsertSwap = useCallback((s: SwapDetail) => {
    setSwaps((list) => mergeSwap(list, s));
    setSwapSeenAt((m) => ({ ...m, [s.swap_id]: Date.now() }));
  }, []);

  // Events first, then the current status, so no change is missed in between.
  useEffect(() => {
    const offs = [
      subscribe("app-status", (s) => {
        sawStatusEvent.current = true;
        setStatus(s);
        setStatusError(null);
      }),
      subscribe("balances", setBalances),
      subscribe("swap", upsertSwap),
      subscribe("log", (line) => setLogs((l) => (l.length >= MAX_LOG_LINES ? [...l.slice(1), line] : [...l, line]))),
    ];
    return () => offs.forEach((off) => off());
  }, [upsertSwap]);

  useEffect(() => {
    let live = true;
    sawStatusEvent.current = false;
    api
      .appStatus()
      .then((s) => live && !sawStatusEvent.current && setStatus(s))
      .catch((e) => live && setStatusError(errorOf(e)));
    return () => {
      live = false;
    };
  }, [attempt]);

  const ready = status?.stage.stage === "ready";

  const reloadSwaps = useCallback(async () => {
    const list = await api.swaps();
    setSwaps((old) => list.reduce(mergeSwap, old));
    const now = Date.now();
    setSwapSeenAt((m) => ({ ...Object.fromEntries(list.map((s) => [s.swap_id, now])), ...m }));
  }, []);

  // Once ready: load what the screens share.
  useEffect(() => {
    if (!ready) return;
    api
      .balances()
      .then(setBalances)
      .catch((e) => notifyError(e, "Could not read the balances"));
    reloadSwaps().catch((e) => notifyError(e, "Could not load the swaps"));
    api
      .logs()
      .then((lines) => setLogs((live) => [...lines, ...live.filter((l) => !lines.some((x) => x.at_ms === l.at_ms && x.message === l.message))]))
      .catch((e) => notifyError(e, "Could not load the log"));
  }, [ready, reloadSwaps]);

  const value = useMemo<AppData>(
    () => ({
      status,
      statusError,
      retryStatus: () => {
        setStatusError(null);
        setAttempt((a) => a + 1);
      },
      balances,
      setBalances,
      swaps,
      upsertSwap,
      reloadSwaps,
      logs,
      swapSeenAt,
    }),
    [status, statusError, balances, swaps, upsertSwap, reloadSwaps, logs, swapSeenAt],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
