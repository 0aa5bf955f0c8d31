import { useState } from "react";
import { AppShell, Badge, Burger, Group, NavLink, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import type { AppStatus } from "./bindings/AppStatus";
import type { OfferView } from "./bindings/OfferView";
import { useAppData } from "./state";
import type { Side } from "./side";
import { ThemeToggle } from "./components/common";
import { FailedScreen, SetupScreen, StartingScreen, UnlockScreen, WaitingScreen, WordsScreen } from "./screens/Onboarding";
import { OffersScreen } from "./screens/Offers";
import { SwapWizard } from "./screens/SwapWizard";
import { LiveSwapScreen } from "./screens/LiveSwap";
import { HistoryScreen } from "./screens/History";
import { WalletsScreen } from "./screens/Wallets";
import { SettingsScreen } from "./screens/SettingsScreen";
import { LogsScreen } from "./screens/Logs";

export type View =
  | { name: "offers" | "history" | "wallets" | "settings" | "logs" }
  | { name: "swap"; side: Side; offer: OfferView | null; key: number }
  | { name: "live"; swapId: string; from: NavName };

/** `swap` is the Buy XMR wizard (its test id predates selling), `sell` the Sell XMR one. */
type NavName = "offers" | "swap" | "sell" | "history" | "wallets" | "settings" | "logs";
const NAV: { name: NavName; label: string }[] = [
  { name: "offers", label: "Offers" },
  { name: "swap", label: "Buy XMR" },
  { name: "sell", label: "Sell XMR" },
  { name: "history", label: "History" },
  { name: "wallets", label: "Wallets" },
  { name: "settings", label: "Settings" },
  { name: "logs", label: "Logs" },
];

/** One screen per stage; never blank. */
export function App() {
  const { status, statusError, retryStatus } = useAppData();
  const [words, setWords] = useState<string[] | null>(null);

  // New words stay on screen until confirmed, whatever the stage does meanwhile.
  if (words && words.length > 0) return <WordsScreen words={words} onDone={() => setWords(null)} />;
  if (!status) return <WaitingScreen error={statusError} onRetry={retryStatus} />;
  const stage = status.stage;
  switch (stage.stage) {
    case "needs_setup":
      return <SetupScreen status={status} onCreated={setWords} />;
    case "locked":
      return <UnlockScreen status={status} />;
    case "starting":
      return <StartingScreen step={stage.step} done={stage.done} total={stage.total} />;
    case "failed":
      return <FailedScreen error={stage.error} nextStep={stage.next_step} onCheckAgain={retryStatus} />;
    case "ready":
      return <Shell status={status} />;
  }
}

function Shell({ status }: { status: AppStatus }) {
  const [view, setView] = useState<View>({ name: "offers" });
  const [offersSide, setOffersSide] = useState<Side>("buy");
  const [opened, { toggle, close }] = useDisclosure(false);
  const navOf = (v: View): NavName => (v.name === "live" ? v.from : v.name === "swap" ? (v.side === "sell" ? "sell" : "swap") : v.name);
  const current = navOf(view);

  function wizard(side: Side, offer: OfferView | null): View {
    return { name: "swap", side, offer, key: Date.now() };
  }

  function navigate(name: NavName) {
    close();
    setView(name === "swap" ? wizard("buy", null) : name === "sell" ? wizard("sell", null) : { name });
  }

  return (
    <AppShell data-testid="app-shell" header={{ height: 56 }} navbar={{ width: 200, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Title order={1} size="h3">
              Confiaro
            </Title>
            <Badge color={status.network === "mainnet" ? "red" : "grape"} variant="light" data-testid="network-badge">
              {status.network === "mainnet" ? "mainnet · real money" : status.network}
            </Badge>
          </Group>
          <ThemeToggle />
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        {NAV.map((n) => (
          <NavLink
            key={n.name}
            component="button"
            type="button"
            label={n.label}
            active={current === n.name}
            aria-current={current === n.name ? "page" : undefined}
            onClick={() => navigate(n.name)}
            data-testid={`nav-${n.name}`}
          />
        ))}
        {status.peer_id && (
          <Text size="xs" c="dimmed" mt="auto" style={{ wordBreak: "break-all" }} title="This node's peer id">
            {status.peer_id}
          </Text>
        )}
      </AppShell.Navbar>
      <AppShell.Main>
        {view.name === "offers" && <OffersScreen initialSide={offersSide} onSideChange={setOffersSide} onSwap={(offer, side) => setView(wizard(side, offer))} />}
        {view.name === "swap" && <SwapWizard key={view.key} side={view.side} initialOffer={view.offer} onStarted={(s) => setView({ name: "live", swapId: s.swap_id, from: navOf(view) })} />}
        {view.name === "live" && <LiveSwapScreen swapId={view.swapId} onBack={() => setView({ name: "history" })} />}
        {view.name === "history" && <HistoryScreen onOpen={(swapId) => setView({ name: "live", swapId, from: "history" })} />}
        {view.name === "wallets" && <WalletsScreen />}
        {view.name === "settings" && <SettingsScreen />}
        {view.name === "logs" && <LogsScreen />}
      </AppShell.Main>
    </AppShell>
  );
}
