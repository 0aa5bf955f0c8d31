import { useEffect, useState, type FormEvent } from "react";
import { Alert, Button, Group, Loader, PasswordInput, Stack, Switch, Text, TextInput, Textarea, Title } from "@mantine/core";
import type { CommandError } from "../bindings/CommandError";
import type { Settings } from "../bindings/Settings";
import { api, errorOf } from "../api";
import { ErrorAlert } from "../components/common";

export function SettingsScreen() {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [rendezvous, setRendezvous] = useState("");
  const [loadError, setLoadError] = useState<CommandError | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api
      .getSettings()
      .then((s) => {
        setSettings(s);
        setRendezvous(s.rendezvous.join("\n"));
      })
      .catch((e) => setLoadError(errorOf(e)));
  }, []);

  if (loadError) return <ErrorAlert error={loadError} title="Could not load the settings" />;
  if (!settings) return <Loader aria-label="Loading settings" />;

  const set = <K extends keyof Settings>(k: K, v: Settings[K]) => {
    setSettings({ ...settings, [k]: v });
    setSaved(false);
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!settings) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const s = await api.saveSettings({
        ...settings,
        rendezvous: rendezvous
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== ""),
      });
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
        <TextInput label="Bitcoin RPC URL" placeholder="default" value={settings.bitcoin_rpc_url} onChange={(e) => set("bitcoin_rpc_url", e.currentTarget.value)} data-testid="settings-btc-url" />
        <TextInput label="Bitcoin RPC user" value={settings.bitcoin_rpc_user} onChange={(e) => set("bitcoin_rpc_user", e.currentTarget.value)} data-testid="settings-btc-user" autoComplete="off" />
        <PasswordInput
          label="Bitcoin RPC password"
          description="Leave empty to keep the saved one"
          value={settings.bitcoin_rpc_password}
          onChange={(e) => set("bitcoin_rpc_password", e.currentTarget.value)}
          data-testid="settings-btc-password"
          autoComplete="off"
        />
        <TextInput label="monerod URL" placeholder="default" value={settings.monerod_url} onChange={(e) => set("monerod_url", e.currentTarget.value)} data-testid="settings-monerod-url" />
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
        {error && <ErrorAlert error={error} title="Could not save" testId="settings-error" />}
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
