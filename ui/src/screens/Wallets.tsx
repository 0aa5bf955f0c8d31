import { useEffect, useState, type FormEvent } from "react";
import { Alert, Button, Code, Group, Paper, SegmentedControl, SimpleGrid, Stack, Text, TextInput, Title } from "@mantine/core";
import type { Addresses } from "../bindings/Addresses";
import type { Asset } from "../bindings/Asset";
import type { CommandError } from "../bindings/CommandError";
import { api, errorOf } from "../api";
import { btcText, parseBtc, parseXmr, xmrText } from "../amounts";
import { CopyField, ErrorAlert, QrCode, notifyError } from "../components/common";
import { useAppData } from "../state";

export function WalletsScreen() {
  const { balances, setBalances, status } = useAppData();
  const [addresses, setAddresses] = useState<Addresses | null>(null);
  const [addrError, setAddrError] = useState<CommandError | null>(null);
  const [funding, setFunding] = useState(false);

  useEffect(() => {
    api
      .addresses()
      .then(setAddresses)
      .catch((e) => setAddrError(errorOf(e)));
    api
      .balances()
      .then(setBalances)
      .catch((e) => notifyError(e, "Could not read the balances"));
  }, [setBalances]);

  async function playMoney() {
    setFunding(true);
    try {
      setBalances(await api.devnetFund({ btc_sat: "100000000", xmr_piconero: "10000000000000" }));
    } catch (e) {
      notifyError(e, "No play money");
    } finally {
      setFunding(false);
    }
  }

  return (
    <Stack data-testid="screen-wallets">
      <Group justify="space-between">
        <Title order={2}>Wallets</Title>
        {status?.network === "regtest" && (
          <Button variant="light" color="grape" onClick={() => void playMoney()} loading={funding} data-testid="devnet-fund">
            Get play money
          </Button>
        )}
      </Group>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Paper withBorder p="md" data-testid="balance-btc">
          <Title order={3} size="h4">
            Bitcoin
          </Title>
          <Text size="xl" fw={700} data-testid="balance-btc-confirmed">
            {balances ? btcText(balances.btc_confirmed_sat) : "…"}
          </Text>
          <Text size="sm" c="dimmed" data-testid="balance-btc-pending">
            Pending: {balances ? btcText(balances.btc_pending_sat) : "…"}
          </Text>
        </Paper>
        <Paper withBorder p="md" data-testid="balance-xmr">
          <Title order={3} size="h4">
            Monero
          </Title>
          <Text size="xl" fw={700} data-testid="balance-xmr-total">
            {balances ? xmrText(balances.xmr_total_piconero) : "…"}
          </Text>
          <Text size="sm" c="dimmed" data-testid="balance-xmr-unlocked">
            Unlocked (spendable): {balances ? xmrText(balances.xmr_unlocked_piconero) : "…"}
          </Text>
        </Paper>
      </SimpleGrid>
      <Title order={3} size="h4">
        Receive
      </Title>
      {addrError && <ErrorAlert error={addrError} title="Could not get addresses" />}
      {addresses && (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Group align="flex-start" wrap="nowrap">
            <QrCode value={`bitcoin:${addresses.btc}`} label="QR code of your Bitcoin address" testId="address-btc-qr" />
            <CopyField value={addresses.btc} label="Bitcoin address" testId="address-btc" />
          </Group>
          <Group align="flex-start" wrap="nowrap">
            <QrCode value={`monero:${addresses.xmr}`} label="QR code of your Monero address" testId="address-xmr-qr" />
            <CopyField value={addresses.xmr} label="Monero address" testId="address-xmr" />
          </Group>
        </SimpleGrid>
      )}
      <WithdrawForm />
    </Stack>
  );
}

function WithdrawForm() {
  const [asset, setAsset] = useState<Asset>("btc");
  const [to, setTo] = useState("");
  const [amount, setAmount] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  const [txid, setTxid] = useState<string | null>(null);

  const parsed = amount.trim() === "" ? null : asset === "btc" ? parseBtc(amount) : parseXmr(amount);
  const amountError = parsed && !parsed.ok ? parsed.error : parsed && parsed.ok && parsed.units === 0n ? "Enter an amount above zero" : asset === "xmr" && touched && parsed === null ? "Enter an amount" : null;
  const toError = touched && to.trim() === "" ? "Enter the destination address" : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (to.trim() === "" || amountError || (asset === "xmr" && parsed === null)) return;
    setBusy(true);
    setError(null);
    setTxid(null);
    try {
      const sent = await api.withdraw({ asset, to: to.trim(), amount: parsed && parsed.ok ? parsed.units.toString() : null });
      setTxid(sent.txid);
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="withdraw-title">
      <form onSubmit={submit} data-testid="withdraw-form">
        <Stack>
          <Title order={3} size="h4" id="withdraw-title">
            Withdraw
          </Title>
          <SegmentedControl
            aria-label="Asset to withdraw"
            value={asset}
            onChange={(v) => setAsset(v === "xmr" ? "xmr" : "btc")}
            data={[
              { value: "btc", label: "BTC" },
              { value: "xmr", label: "XMR" },
            ]}
            data-testid="withdraw-asset"
          />
          <TextInput label={`Destination ${asset === "btc" ? "Bitcoin" : "Monero"} address`} value={to} onChange={(e) => setTo(e.currentTarget.value)} error={toError} autoComplete="off" spellCheck={false} data-testid="withdraw-to" />
          <TextInput
            label={`Amount (${asset.toUpperCase()})`}
            description={asset === "btc" ? "Leave empty to send everything not promised to a swap" : "Up to 12 decimals"}
            value={amount}
            onChange={(e) => setAmount(e.currentTarget.value)}
            error={amountError}
            inputMode="decimal"
            autoComplete="off"
            data-testid="withdraw-amount"
          />
          {error && <ErrorAlert error={error} title="Withdrawal failed" testId="withdraw-error" />}
          {txid && (
            <Alert color="teal" title="Sent" data-testid="withdraw-sent">
              Transaction <Code style={{ wordBreak: "break-all" }}>{txid}</Code>
            </Alert>
          )}
          <Group>
            <Button type="submit" loading={busy} data-testid="withdraw-submit">
              {asset === "btc" && parsed === null ? "Send everything" : "Send"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
