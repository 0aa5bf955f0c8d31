import { useEffect, useState, type FormEvent } from "react";
import { Alert, Badge, Button, Group, Loader, PasswordInput, SegmentedControl, Stack, Switch, Text, TextInput, Textarea, Title } from "@mantine/core";
import type { BitcoinSourceKind } from "../bindings/BitcoinSourceKind";
import type { CheckOutcome } from "../bindings/CheckOutcome";
import type { CommandError } from "../bindings/CommandError";
import type { ConnectionCheck } from "../bindings/ConnectionCheck";
import type { PartCheck } from "../bindings/PartCheck";
import type { Settings } from "../bindings/Settings";
import { api, errorOf } from "../api";
import { ErrorAlert } from "../components/common";
import { formatBtc, formatXmr, parseBtc, parseXmr, type ParseResult } from "../amounts";

/** What each kind of Bitcoin source is called, and what its URL looks like. */
const SOURCES: Record<BitcoinSourceKind, { label: string; url: string; example: string }> = {
  bitcoind: { label: "Bitcoin Core", url: "Bitcoin Core RPC URL", example: "http://127.0.0.1:8332" },
  electrum: { label: "Electrum", url: "Electrum server URL", example: "ssl://electrum.example.org:50002" },
  esplora: { label: "Esplora", url: "Esplora server URL", example: "https://mempool.example.org/api" },
};

const OUTCOME: Record<CheckOutcome, { color: string; text: string }> = {
  ok: { color: "teal", text: "works" },
  failed: { color: "red", text: "failed" },
  skipped: { color: "gray", text: "not tried" },
};

/** One part of the connection test: its name, a badge, and what was found or is wrong. */
function CheckLine({ name, part, testId }: { name: string; part: PartCheck; testId: string }) {
  const outcome = OUTCOME[part.outcome];
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start" data-testid={testId} data-outcome={part.outcome}>
      <Badge color={outcome.color} variant="light" style={{ flexShrink: 0 }}>
        {outcome.text}
      </Badge>
      <Text size="sm">
        <b>{name}</b>: {part.detail}
      </Text>
    </Group>
  );
}

export function SettingsScreen() {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [rendezvous, setRendezvous] = useState("");
  const [limitBtc, setLimitBtc] = useState("");
  const [limitXmr, setLimitXmr] = useState("");
  const [loadError, setLoadError] = useState<CommandError | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [testing, setTesting] = useState(false);
  const [check, setCheck] = useState<ConnectionCheck | null>(null);

  useEffect(() => {
    api
      .getSettings()
      .then((s) => {
        setSettings(s);
        setRendezvous(s.rendezvous.join("\n"));
        setLimitBtc(s.confirm_above_sat === "" ? "" : formatBtc(s.confirm_above_sat));
        setLimitXmr(s.confirm_above_piconero === "" ? "" : formatXmr(s.confirm_above_piconero));
      })
      .catch((e) => setLoadError(errorOf(e)));
  }, []);

  if (loadError) return <ErrorAlert error={loadError} title="Could not load the settings" />;
  if (!settings) return <Loader aria-label="Loading settings" />;

  const set = <K extends keyof Settings>(k: K, v: Settings[K]) => {
    setSettings({ ...settings, [k]: v });
    setSaved(false);
    setCheck(null);
  };
  /** The form as settings, or why a limit does not parse. */
  const edited = (): { settings: Settings } | { error: CommandError } => {
    const limit = (text: string, parse: (t: string) => ParseResult, what: string): string | CommandError => {
      if (text.trim() === "") return "";
      const parsed = parse(text.trim());
      return parsed.ok ? parsed.units.toString() : { message: `${what}: ${parsed.error}`, next_step: "Write an amount such as 0.05, or leave it empty for no limit." };
    };
    const sat = limit(limitBtc, parseBtc, "The BTC limit");
    if (typeof sat !== "string") return { error: sat };
    const piconero = limit(limitXmr, parseXmr, "The XMR limit");
    if (typeof piconero !== "string") return { error: piconero };
    return {
      settings: {
        ...settings,
        confirm_above_sat: sat,
        confirm_above_piconero: piconero,
        rendezvous: rendezvous
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== ""),
      },
    };
  };
  const source = SOURCES[settings.bitcoin_source];
  const tls = settings.bitcoin_source !== "bitcoind";

  async function testConnections() {
    setTesting(true);
    setError(null);
    setCheck(null);
    try {
      const form = edited();
      if ("error" in form) throw form.error;
      setCheck(await api.testConnections(form.settings));
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setTesting(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!settings) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const form = edited();
      if ("error" in form) throw form.error;
      const s = await api.saveSettings(form.settings);
      setSettings(s);
      setRendezvous(s.rendezvous.join("\n"));
      setSaved(true);
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} data-testid="screen-settings">
      <Stack maw={640}>
        <Title order={2}>Settings</Title>
        <TextInput label="Network" value={settings.network} readOnly description="Chosen at first run; fixed for this data directory" data-testid="settings-network" />
        <Stack gap={4}>
          <Text size="sm" fw={500}>
            Bitcoin chain source
          </Text>
          <SegmentedControl
            value={settings.bitcoin_source}
            onChange={(v) => set("bitcoin_source", v as BitcoinSourceKind)}
            data={(Object.keys(SOURCES) as BitcoinSourceKind[]).map((k) => ({ value: k, label: SOURCES[k].label }))}
            data-testid="settings-btc-source"
          />
          <Text size="xs" c="dimmed">
            Your own Bitcoin Core node is the most private. An Electrum or Esplora server learns your addresses.
          </Text>
        </Stack>
        <TextInput label={source.url} placeholder={settings.network === "regtest" ? "default" : source.example} value={settings.bitcoin_url} onChange={(e) => set("bitcoin_url", e.currentTarget.value)} data-testid="settings-btc-url" />
        {tls && (
          <TextInput
            label="CA file (PEM)"
            description="Only for a server with a certificate of its own authority (ssl:// or https://). Empty: the system's certificate authorities."
            value={settings.bitcoin_ca_file}
            onChange={(e) => set("bitcoin_ca_file", e.currentTarget.value)}
            data-testid="settings-btc-ca"
          />
        )}
        {!tls && (
          <>
            <TextInput label="Bitcoin Core RPC user" value={settings.bitcoin_rpc_user} onChange={(e) => set("bitcoin_rpc_user", e.currentTarget.value)} data-testid="settings-btc-user" autoComplete="off" />
            <PasswordInput
              label="Bitcoin Core RPC password"
              description="Leave empty to keep the saved one"
              value={settings.bitcoin_rpc_password}
              onChange={(e) => set("bitcoin_rpc_password", e.currentTarget.value)}
              data-testid="settings-btc-password"
              autoComplete="off"
            />
          </>
        )}
        <TextInput
          label="Monero node URL"
          description="Your own monerod, or a remote node (reached through Tor off regtest)"
          placeholder={settings.network === "regtest" ? "default" : "http://127.0.0.1:18081"}
          value={settings.monerod_url}
          onChange={(e) => set("monerod_url", e.currentTarget.value)}
          data-testid="settings-monerod-url"
        />
        <TextInput
          label="monero-wallet-rpc"
          description="The program the app runs for its Monero wallet. Empty: found beside the app, then on PATH (Debian: apt install monero)."
          placeholder="found automatically"
          value={settings.wallet_rpc_path}
          onChange={(e) => set("wallet_rpc_path", e.currentTarget.value)}
          data-testid="settings-wallet-rpc"
        />
        <Group>
          <Button variant="light" onClick={() => void testConnections()} loading={testing} data-testid="settings-test">
            Test connections
          </Button>
          {testing && (
            <Text size="sm" c="dimmed">
              Asking the Bitcoin source, the Monero node and monero-wallet-rpc (up to a minute)…
            </Text>
          )}
        </Group>
        {check && (
          <Stack gap={6} data-testid="settings-test-result" data-ok={check.ok}>
            <CheckLine name="Bitcoin" part={check.bitcoin} testId="settings-test-bitcoin" />
            <CheckLine name="Monero" part={check.monero} testId="settings-test-monero" />
            <CheckLine name="monero-wallet-rpc" part={check.wallet_rpc} testId="settings-test-wallet-rpc" />
          </Stack>
        )}
        <Group grow align="flex-start">
          <TextInput
            label="Confirm twice above (BTC)"
            description="A swap paying more BTC asks for a second confirmation. Empty: never."
            value={limitBtc}
            onChange={(e) => {
              setLimitBtc(e.currentTarget.value);
              setSaved(false);
            }}
            inputMode="decimal"
            data-testid="settings-limit-btc"
          />
          <TextInput
            label="Confirm twice above (XMR)"
            description="A swap selling more XMR asks for a second confirmation. Empty: never."
            value={limitXmr}
            onChange={(e) => {
              setLimitXmr(e.currentTarget.value);
              setSaved(false);
            }}
            inputMode="decimal"
            data-testid="settings-limit-xmr"
          />
        </Group>
        <Textarea
          label="Rendezvous points"
          description="One multiaddr per line, ending in /p2p/<peer id>"
          autosize
          minRows={2}
          value={rendezvous}
          onChange={(e) => {
            setRendezvous(e.currentTarget.value);
            setSaved(false);
          }}
          spellCheck={false}
          data-testid="settings-rendezvous"
        />
        <Switch
          label="Start the local devnet and a demo maker with the app"
          description={settings.network === "regtest" ? "Regtest only" : "Only available on regtest"}
          disabled={settings.network !== "regtest"}
          checked={settings.start_devnet}
          onChange={(e) => set("start_devnet", e.currentTarget.checked)}
          data-testid="settings-devnet"
        />
        <Text size="xs" c="dimmed">
          Empty fields use the defaults. Changes apply from the next start.
        </Text>
        {error && <ErrorAlert error={error} title="Settings not usable" testId="settings-error" />}
        {saved && (
          <Alert color="teal" data-testid="settings-saved">
            Saved. The new settings are used from the next start.
          </Alert>
        )}
        <Group>
          <Button type="submit" loading={busy} data-testid="settings-save">
            Save
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
