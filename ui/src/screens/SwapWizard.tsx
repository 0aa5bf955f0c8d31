import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Alert, Button, Group, Loader, Radio, Stack, Stepper, Table, Text, TextInput, Title } from "@mantine/core";
import type { Addresses } from "../bindings/Addresses";
import type { CommandError } from "../bindings/CommandError";
import type { OfferView } from "../bindings/OfferView";
import type { SwapDetail } from "../bindings/SwapDetail";
import { api, errorOf } from "../api";
import { btcText, units, xmrText } from "../amounts";
import { checkBuyAmount } from "../buy";
import { estimateBuy } from "../fees";
import { CopyField, ErrorAlert, QrCode, SettledStepper, shortId } from "../components/common";
import { useAppData } from "../state";
import { OffersTable, useOffers } from "./Offers";

type StepId = "offer" | "amount" | "receive" | "deposit" | "confirm";

export function SwapWizard({ initialOffer, onStarted }: { initialOffer: OfferView | null; onStarted: (swap: SwapDetail) => void }) {
  const { balances, setBalances, status, upsertSwap } = useAppData();
  const { offers, error: offersError, refresh } = useOffers();
  const [offer, setOffer] = useState<OfferView | null>(initialOffer);
  const [amount, setAmount] = useState("");
  const [amountTouched, setAmountTouched] = useState(false);
  const [receiveMode, setReceiveMode] = useState<"builtin" | "external">("builtin");
  const [externalAddress, setExternalAddress] = useState("");
  const [needsDeposit, setNeedsDeposit] = useState(false);
  const [step, setStep] = useState<StepId>(initialOffer ? "amount" : "offer");
  const [addresses, setAddresses] = useState<Addresses | null>(null);
  const [addressError, setAddressError] = useState<CommandError | null>(null);
  const [funding, setFunding] = useState(false);
  const [fundError, setFundError] = useState<CommandError | null>(null);
  const [buying, setBuying] = useState(false);
  const [buyError, setBuyError] = useState<CommandError | null>(null);

  const balanceSat = balances ? units(balances.btc_confirmed_sat) : 0n;
  const check = useMemo(() => (offer?.quote ? checkBuyAmount(amount, offer.quote, balanceSat) : null), [offer, amount, balanceSat]);
  const regtest = status?.network === "regtest";

  const steps: StepId[] = needsDeposit ? ["offer", "amount", "receive", "deposit", "confirm"] : ["offer", "amount", "receive", "confirm"];
  const active = steps.indexOf(step);

  useEffect(() => {
    if (step !== "deposit" || addresses) return;
    api
      .addresses()
      .then(setAddresses)
      .catch((e) => setAddressError(errorOf(e)));
  }, [step, addresses]);

  function go(next: StepId) {
    setStep(next);
  }

  function submitAmount(e: FormEvent) {
    e.preventDefault();
    setAmountTouched(true);
    if (check?.ok) go("receive");
  }

  const externalError = receiveMode === "external" && externalAddress.trim() === "" ? "Enter the Monero address the XMR should go to" : null;
  const [receiveTouched, setReceiveTouched] = useState(false);
  function submitReceive(e: FormEvent) {
    e.preventDefault();
    setReceiveTouched(true);
    if (externalError || !check?.ok) return;
    const short = check.sat > balanceSat;
    setNeedsDeposit(short);
    go(short ? "deposit" : "confirm");
  }

  async function playMoney() {
    if (!check?.ok) return;
    setFunding(true);
    setFundError(null);
    try {
      // Ask for a little more than the shortfall: the lock transaction pays a fee.
      const want = check.sat - balanceSat + 100_000n;
      setBalances(await api.devnetFund({ btc_sat: want.toString(), xmr_piconero: null }));
    } catch (err) {
      setFundError(errorOf(err));
    } finally {
      setFunding(false);
    }
  }

  async function buy() {
    if (!offer || !check?.ok) return;
    setBuying(true);
    setBuyError(null);
    try {
      const swap = await api.buyXmr({
        maker: offer.address,
        btc_sat: check.sat.toString(),
        receive_address: receiveMode === "external" ? externalAddress.trim() : null,
      });
      upsertSwap(swap);
      onStarted(swap);
    } catch (err) {
      setBuyError(errorOf(err));
    } finally {
      setBuying(false);
    }
  }

  const covered = check?.ok ? balanceSat >= check.sat : false;
  const estimate = check?.ok ? estimateBuy(status?.network ?? "mainnet", check.sat, check.piconero) : null;
  const pendingSat = balances ? units(balances.btc_pending_sat) : 0n;

  return (
    <Stack data-testid="screen-swap">
      <Title order={2}>Buy XMR</Title>
      <SettledStepper active={active} onStepClick={(i) => i < active && setStep(steps[i]!)} allowNextStepsSelect={false} size="sm" data-testid="wizard-stepper">
        {steps.map((id, i) => (
          <Stepper.Step key={id} label={STEP_LABEL[id]} data-testid={`wizard-step-${id}`} aria-current={i === active ? "step" : undefined} />
        ))}
      </SettledStepper>

      {step === "offer" && (
        <Stack data-testid="wizard-offer">
          <Text>Pick the maker to buy from.</Text>
          {offersError && <ErrorAlert error={offersError} title="Could not load offers" />}
          {offers === null && !offersError && <Loader size="sm" aria-label="Loading offers" />}
          {offers && offers.length === 0 && (
            <Alert color="gray">
              No makers found yet.{" "}
              <Button variant="subtle" size="xs" onClick={() => void refresh()}>
                Refresh
              </Button>
            </Alert>
          )}
          {offers && offers.length > 0 && (
            <OffersTable
              offers={offers}
              selected={offer?.address ?? null}
              pickLabel="Choose"
              onPick={(o) => {
                setOffer(o);
                go("amount");
              }}
            />
          )}
        </Stack>
      )}

      {step === "amount" && offer?.quote && (
        <form onSubmit={submitAmount} data-testid="wizard-amount">
          <Stack>
            <Text size="sm">
              Maker <b>{shortId(offer.peer)}</b> pays <b>{xmrText(offer.quote.piconero_per_btc)}</b> per BTC, for {btcText(offer.quote.min_sat)} to {btcText(offer.quote.max_sat)}.
            </Text>
            <TextInput
              label="Amount to swap (BTC)"
              description={`Your confirmed balance: ${balances ? btcText(balances.btc_confirmed_sat) : "…"}`}
              placeholder="0.01"
              value={amount}
              onChange={(e) => setAmount(e.currentTarget.value)}
              onBlur={() => setAmountTouched(true)}
              error={(amountTouched || amount !== "") && check && !check.ok ? check.error : null}
              inputMode="decimal"
              autoComplete="off"
              data-testid="buy-amount"
              autoFocus
            />
            {check?.ok && (
              <Alert color="blue" data-testid="buy-receive">
                You get <b data-testid="buy-xmr">{xmrText(check.piconero)}</b> before network fees
                {offer.reserve_piconero !== null && units(offer.reserve_piconero) < check.piconero && (
                  <Text size="sm" mt={4} c="orange" data-testid="buy-reserve-warning">
                    This maker's proven reserve ({xmrText(offer.reserve_piconero)}) is less than that.
                  </Text>
                )}
                {check.shortfallSat > 0n && (
                  <Text size="sm" mt={4} data-testid="buy-shortfall">
                    Your balance is {btcText(check.sat - check.shortfallSat)}: you will be asked to deposit {btcText(check.shortfallSat)} more (plus the network fee).
                  </Text>
                )}
              </Alert>
            )}
            <Group>
              <Button variant="default" onClick={() => go("offer")} data-testid="wizard-back">
                Back
              </Button>
              <Button type="submit" data-testid="wizard-next" disabled={!check?.ok}>
                Next
              </Button>
            </Group>
          </Stack>
        </form>
      )}

      {step === "receive" && (
        <form onSubmit={submitReceive} data-testid="wizard-receive">
          <Stack>
            <Radio.Group label="Where should the XMR go?" value={receiveMode} onChange={(v) => setReceiveMode(v === "external" ? "external" : "builtin")}>
              <Stack gap="xs" mt="xs">
                <Radio value="builtin" label="The built-in XMR wallet (recommended)" data-testid="receive-builtin" />
                <Radio value="external" label="Another Monero address" data-testid="receive-external" />
              </Stack>
            </Radio.Group>
            {receiveMode === "external" && (
              <TextInput
                label="Monero address"
                value={externalAddress}
                onChange={(e) => setExternalAddress(e.currentTarget.value)}
                error={receiveTouched ? externalError : null}
                autoComplete="off"
                spellCheck={false}
                data-testid="receive-address"
              />
            )}
            <Group>
              <Button variant="default" onClick={() => go("amount")}>
                Back
              </Button>
              <Button type="submit" data-testid="wizard-next">
                Next
              </Button>
            </Group>
          </Stack>
        </form>
      )}

      {step === "deposit" && check?.ok && (
        <Stack data-testid="wizard-deposit">
          <Alert color={covered ? "teal" : "yellow"} title={covered ? "Funds arrived" : "Deposit bitcoin first"} data-testid="deposit-status">
            {covered
              ? `Your confirmed balance of ${btcText(balanceSat)} covers the swap.`
              : `Send at least ${btcText(check.sat - balanceSat)} (plus a little for the fee) to your built-in Bitcoin wallet. Confirmed: ${btcText(balanceSat)}${pendingSat > 0n ? `, pending: ${btcText(pendingSat)}` : ""}. This page updates by itself.`}
          </Alert>
          {addressError && <ErrorAlert error={addressError} title="Could not get a deposit address" />}
          {addresses && (
            <Group align="flex-start">
              <QrCode value={`bitcoin:${addresses.btc}`} label="QR code of your Bitcoin deposit address" testId="deposit-qr" />
              <CopyField value={addresses.btc} label="Your Bitcoin deposit address" testId="deposit-address" />
            </Group>
          )}
          {regtest && !covered && (
            <Group>
              <Button variant="light" color="grape" onClick={() => void playMoney()} loading={funding} data-testid="devnet-fund">
                Get play money
              </Button>
              <Text size="xs" c="dimmed">
                Regtest only: the local devnet sends you coins.
              </Text>
            </Group>
          )}
          {fundError && <ErrorAlert error={fundError} title="No play money" />}
          {!covered && (
            <Group gap="xs">
              <Loader size="xs" /> <Text size="sm">Waiting for the deposit to confirm…</Text>
            </Group>
          )}
          <Group>
            <Button variant="default" onClick={() => go("receive")}>
              Back
            </Button>
            <Button disabled={!covered} onClick={() => go("confirm")} data-testid="wizard-next">
              Next
            </Button>
          </Group>
        </Stack>
      )}

      {step === "confirm" && offer && check?.ok && estimate && (
        <Stack data-testid="wizard-confirm">
          <Table withTableBorder aria-label="Swap summary">
            <Table.Tbody>
              <Table.Tr>
                <Table.Th>You swap</Table.Th>
                <Table.Td data-testid="confirm-btc">{btcText(check.sat)}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Bitcoin network fee (your lock)</Table.Th>
                <Table.Td data-testid="confirm-fee-btc">about {btcText(estimate.btcLockFeeSat)}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>You pay in all</Table.Th>
                <Table.Td fw={700} data-testid="confirm-pay-total">
                  about {btcText(estimate.btcTotalSat)}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>The maker locks</Table.Th>
                <Table.Td data-testid="confirm-xmr">{xmrText(check.piconero)}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Monero network fee (the maker's lock)</Table.Th>
                <Table.Td data-testid="confirm-fee-xmr-lock">Paid by the maker, not taken from your XMR</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Monero network fee (moving the XMR to you)</Table.Th>
                <Table.Td data-testid="confirm-fee-xmr-sweep">about {xmrText(estimate.xmrSweepFeePiconero)}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>You get</Table.Th>
                <Table.Td fw={700} data-testid="confirm-get-net">
                  about {xmrText(estimate.xmrNetPiconero)}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Maker</Table.Th>
                <Table.Td style={{ wordBreak: "break-all" }}>{offer.peer}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>XMR goes to</Table.Th>
                <Table.Td style={{ wordBreak: "break-all" }} data-testid="confirm-receive">
                  {receiveMode === "external" ? externalAddress.trim() : "The built-in XMR wallet"}
                </Table.Td>
              </Table.Tr>
              {offer.quote && (
                <Table.Tr>
                  <Table.Th>Refund possible after</Table.Th>
                  <Table.Td>{offer.quote.cancel_timelock} Bitcoin blocks without progress</Table.Td>
                </Table.Tr>
              )}
            </Table.Tbody>
          </Table>
          <Text size="xs" c="dimmed" data-testid="confirm-fee-note">
            Network fees are estimates: the app pays the Bitcoin network's fee rate when it locks (estimated here at {estimate.assumptions.btcSatPerVb.toString()} sat/vB, for
            a lock from one coin of your wallet), and the Monero network's fee when it moves the XMR to you. If the swap is refunded instead, your bitcoin comes back less
            two more Bitcoin network fees (cancel and refund).
          </Text>
          {!covered && (
            <Alert color="yellow">Your confirmed BTC balance ({btcText(balanceSat)}) no longer covers this amount.</Alert>
          )}
          {buyError && <ErrorAlert error={buyError} title="The swap did not start" testId="buy-error" />}
          <Group>
            <Button variant="default" onClick={() => go(needsDeposit ? "deposit" : "receive")}>
              Back
            </Button>
            <Button onClick={() => void buy()} loading={buying} data-testid="buy-submit" color="teal">
              Start the swap
            </Button>
          </Group>
        </Stack>
      )}
    </Stack>
  );
}

const STEP_LABEL: Record<StepId, string> = {
  offer: "Offer",
  amount: "Amount",
  receive: "Receive address",
  deposit: "Deposit",
  confirm: "Confirm",
};
