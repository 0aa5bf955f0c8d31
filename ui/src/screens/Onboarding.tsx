import { useState, type FormEvent } from "react";
import {
  Alert,
  Button,
  Center,
  Collapse,
  Checkbox,
  Code,
  Group,
  Paper,
  PasswordInput,
  Progress,
  Radio,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Text,
  Textarea,
  Title,
} from "@mantine/core";
import type { AppStatus } from "../bindings/AppStatus";
import type { CommandError } from "../bindings/CommandError";
import type { NetworkName } from "../bindings/NetworkName";
import { api, errorOf } from "../api";
import { ErrorAlert, ThemeToggle } from "../components/common";
import { SettingsScreen } from "./SettingsScreen";

export function Frame({ title, children, testId }: { title: string; children: React.ReactNode; testId: string }) {
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" radius="md" w="100%" maw={560} data-testid={testId} component="main">
        <Group justify="space-between" mb="md">
          <Title order={1} size="h2">
            {title}
          </Title>
          <ThemeToggle />
        </Group>
        {children}
      </Paper>
    </Center>
  );
}

/** 0..4 and a hint; a hint only, the backend decides what it accepts. */
export function passwordStrength(pw: string): { score: number; hint: string } {
  if (pw.length === 0) return { score: 0, hint: "Enter a password" };
  let score = 0;
  if (pw.length >= 8) score++;
  if (pw.length >= 14) score++;
  if (/[a-z]/.test(pw) && /[A-Z]/.test(pw)) score++;
  if (/[0-9]/.test(pw) && /[^A-Za-z0-9]/.test(pw)) score++;
  if (pw.length < 8) return { score: 0, hint: "Too short: use at least 8 characters (a passphrase of several words is best)" };
  const hints = ["Weak", "Weak: make it longer", "Fair: longer or more varied is better", "Good", "Strong"];
  return { score, hint: hints[score] ?? "Strong" };
}

/** The network choices; regtest's depends on whether this build has the devnet inside. */
function networkChoices(devnetBuiltIn: boolean): { value: NetworkName; label: string; description: string }[] {
  const regtest = devnetBuiltIn
    ? { value: "regtest" as const, label: "Regtest (local play money)", description: "A local test stack the app can start itself. Nothing here is worth anything." }
    : { value: "regtest" as const, label: "Regtest (your own nodes)", description: "Local regtest nodes of your own: this build has no built-in test stack." };
  return devnetBuiltIn ? [regtest, ...PUBLIC_NETWORKS] : [...PUBLIC_NETWORKS.slice(0, 2), regtest, ...PUBLIC_NETWORKS.slice(2)];
}

const PUBLIC_NETWORKS: { value: NetworkName; label: string; description: string }[] = [
  { value: "signet", label: "Signet", description: "Bitcoin signet with Monero stagenet: public test coins without value." },
  { value: "testnet4", label: "Testnet4", description: "Bitcoin testnet4 with Monero stagenet: public test coins without value." },
  { value: "mainnet", label: "Mainnet — REAL MONEY", description: "Bitcoin and Monero mainnet. Mistakes here lose real money." },
];

export function SetupScreen({ status, onCreated }: { status: AppStatus; onCreated: (words: string[]) => void }) {
  const [mode, setMode] = useState<"create" | "restore">("create");
  const [words, setWords] = useState("");
  const [pw, setPw] = useState("");
  const [pw2, setPw2] = useState("");
  const [network, setNetwork] = useState<NetworkName>(status.network);
  const networks = networkChoices(status.devnet_built_in);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  const [touched, setTouched] = useState(false);
  const [acceptRealMoney, setAcceptRealMoney] = useState(false);

  const strength = passwordStrength(pw);
  const wordCount = words.trim() === "" ? 0 : words.trim().split(/\s+/).length;
  const wordsError = mode === "restore" && touched && wordCount !== 12 && wordCount !== 24 ? `Enter 12 or 24 words (you entered ${wordCount})` : null;
  const pwError = touched && pw.length < 8 ? "At least 8 characters" : null;
  const pw2Error = touched && pw !== pw2 ? "The passwords differ" : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (pw.length < 8 || pw !== pw2) return;
    if (mode === "restore" && wordCount !== 12 && wordCount !== 24) return;
    setBusy(true);
    setError(null);
    try {
      const res = await api.createWallet({
        network,
        password: pw,
        restore_words: mode === "restore" ? words.trim().toLowerCase().split(/\s+/).join(" ") : null,
        accept_real_money: network === "mainnet" && acceptRealMoney,
      });
      onCreated(res.words);
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Frame title="Welcome to Confiaro" testId="screen-setup">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text>Swap bitcoin for monero directly with another person, no custodian. First, set up your wallet.</Text>
          <SegmentedControl
            aria-label="Create a new wallet or restore one"
            data-testid="setup-mode"
            value={mode}
            onChange={(v) => setMode(v === "restore" ? "restore" : "create")}
            data={[
              { value: "create", label: "Create a new wallet" },
              { value: "restore", label: "Restore from words" },
            ]}
          />
          {mode === "restore" && (
            <Textarea
              label="Recovery words"
              description="The 12 or 24 words, in order, separated by spaces"
              autosize
              minRows={3}
              value={words}
              onChange={(e) => setWords(e.currentTarget.value)}
              error={wordsError}
              data-testid="setup-words"
              autoComplete="off"
              spellCheck={false}
            />
          )}
          <PasswordInput
            label="Password"
            description="Encrypts your wallet on this computer"
            value={pw}
            onChange={(e) => setPw(e.currentTarget.value)}
            error={pwError}
            data-testid="setup-password"
            autoComplete="new-password"
          />
          <div aria-live="polite">
            <Progress value={(strength.score / 4) * 100} color={strength.score >= 3 ? "teal" : strength.score >= 2 ? "yellow" : "red"} size="sm" aria-label="Password strength" />
            <Text size="xs" c="dimmed" mt={4} data-testid="setup-strength">
              Strength: {strength.hint}
            </Text>
          </div>
          <PasswordInput
            label="Password again"
            value={pw2}
            onChange={(e) => setPw2(e.currentTarget.value)}
            error={pw2Error}
            data-testid="setup-password2"
            autoComplete="new-password"
          />
          <Radio.Group label="Network" description="Fixed for this wallet once chosen" value={network} onChange={(v) => setNetwork(v as NetworkName)} data-testid="setup-network">
            <Stack gap="xs" mt="xs">
              {networks.map((n) => (
                <Radio key={n.value} value={n.value} label={n.label} description={n.description} data-testid={`setup-network-${n.value}`} color={n.value === "mainnet" ? "red" : undefined} />
              ))}
            </Stack>
          </Radio.Group>
          {network === "mainnet" && (
            <Alert color="red" title="Real money" data-testid="setup-mainnet-warning">
              On mainnet every swap moves real bitcoin and monero. Start on regtest if you are trying Confiaro out.
              <Checkbox
                mt="sm"
                label="I understand that this is real money"
                checked={acceptRealMoney}
                onChange={(e) => setAcceptRealMoney(e.currentTarget.checked)}
                data-testid="setup-mainnet-confirm"
              />
            </Alert>
          )}
          {error && <ErrorAlert error={error} title="Could not set up the wallet" />}
          <Button type="submit" loading={busy} data-testid="setup-submit">
            {mode === "create" ? "Create wallet" : "Restore wallet"}
          </Button>
        </Stack>
      </form>
    </Frame>
  );
}

export function WordsScreen({ words, onDone }: { words: string[]; onDone: () => void }) {
  const [confirmed, setConfirmed] = useState(false);
  return (
    <Frame title="Your recovery words" testId="screen-words">
      <Stack>
        <Alert color="yellow" title="Write these words down, in order, on paper">
          They are shown only this once. Anyone with them can take your funds; without them you cannot recover the wallet.
        </Alert>
        <SimpleGrid cols={{ base: 2, xs: 3 }} spacing="xs" data-testid="words-list" component="ol" style={{ listStyle: "none", padding: 0, margin: 0 }}>
          {words.map((w, i) => (
            <li key={i}>
              <Code fz="md" style={{ display: "block" }}>
                {i + 1}. {w}
              </Code>
            </li>
          ))}
        </SimpleGrid>
        <Checkbox label="I wrote them down" checked={confirmed} onChange={(e) => setConfirmed(e.currentTarget.checked)} data-testid="words-confirm" />
        <Button disabled={!confirmed} onClick={onDone} data-testid="words-done">
          Continue
        </Button>
      </Stack>
    </Frame>
  );
}

export function UnlockScreen({ status }: { status: AppStatus }) {
  const [pw, setPw] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.unlock({ password: pw });
      // The answer and the `app-status` events move the app on.
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Frame title="Unlock your wallet" testId="screen-unlock">
      <form onSubmit={submit}>
        <Stack>
          <Text size="sm" c="dimmed">
            Network: <b data-testid="unlock-network">{status.network}</b> · Data: <Code>{status.data_dir}</Code>
          </Text>
          <PasswordInput label="Password" value={pw} onChange={(e) => setPw(e.currentTarget.value)} data-testid="unlock-password" autoFocus autoComplete="current-password" />
          {error && <ErrorAlert error={error} title="Could not unlock" testId="unlock-error" />}
          <Button type="submit" loading={busy} disabled={pw.length === 0} data-testid="unlock-submit">
            Unlock
          </Button>
        </Stack>
      </form>
    </Frame>
  );
}

export function StartingScreen({ step, done, total }: { step: string; done: number; total: number }) {
  const pct = total > 0 ? Math.min(100, (done / total) * 100) : 0;
  return (
    <Frame title="Starting Confiaro" testId="screen-starting">
      <Stack>
        <Progress value={pct} size="lg" animated aria-label={`Step ${done} of ${total}`} data-testid="starting-progress" />
        <Text data-testid="starting-step" aria-live="polite">
          {step}
        </Text>
        <Text size="sm" c="dimmed" data-testid="starting-count">
          Step {Math.min(done + 1, total)} of {total} ({done} done)
        </Text>
      </Stack>
    </Frame>
  );
}

export function FailedScreen({ error, nextStep, onCheckAgain }: { error: string; nextStep: string; onCheckAgain: () => void }) {
  const [pw, setPw] = useState("");
  const [busy, setBusy] = useState(false);
  const [retryError, setRetryError] = useState<CommandError | null>(null);
  const [showSettings, setShowSettings] = useState(false);
  async function retry(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setRetryError(null);
    try {
      await api.unlock({ password: pw });
    } catch (err) {
      setRetryError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Frame title="Confiaro could not start" testId="screen-failed">
      <Stack>
        <ErrorAlert error={{ message: error, next_step: nextStep }} title="Starting failed" testId="failed-error" />
        <form onSubmit={retry}>
          <Stack>
            <PasswordInput label="Password (to start again)" value={pw} onChange={(e) => setPw(e.currentTarget.value)} data-testid="failed-password" autoComplete="current-password" />
            {retryError && <ErrorAlert error={retryError} title="Retry failed" testId="failed-retry-error" />}
            <Group>
              <Button type="submit" loading={busy} disabled={pw.length === 0} data-testid="failed-retry">
                Retry
              </Button>
              <Button variant="default" onClick={onCheckAgain} data-testid="failed-check">
                Check status again
              </Button>
              <Button variant="subtle" onClick={() => setShowSettings((v) => !v)} aria-expanded={showSettings} data-testid="failed-settings">
                {showSettings ? "Hide settings" : "Edit settings"}
              </Button>
            </Group>
          </Stack>
        </form>
        <Collapse expanded={showSettings}>{showSettings && <SettingsScreen />}</Collapse>
      </Stack>
    </Frame>
  );
}

export function WaitingScreen({ error, onRetry }: { error: CommandError | null; onRetry: () => void }) {
  return (
    <Frame title="Confiaro" testId="screen-connecting">
      {error ? (
        <Stack>
          <ErrorAlert error={error} title="No answer from the app's backend" />
          <Button onClick={onRetry} data-testid="connecting-retry">
            Try again
          </Button>
        </Stack>
      ) : (
        <Stack>
          <Progress value={100} animated aria-label="Waiting for the backend" />
          <Text data-testid="connecting-text">Waiting for the app's backend to report its status…</Text>
        </Stack>
      )}
    </Frame>
  );
}
